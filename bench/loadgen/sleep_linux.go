//go:build linux

package main

import (
	"syscall"
	"time"
)

// preciseSleep blocks the calling OS thread in nanosleep(2): hrtimer precision (tens of µs), where
// time.Sleep wakes on the runtime's netpoller with millisecond granularity, which at 1000 req/s
// would put up to a whole interval of scheduling lag into every measured latency. The caller locks
// its goroutine to its thread; the runtime hands the P to other goroutines meanwhile.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		if err := syscall.Nanosleep(&ts, &rem); err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
