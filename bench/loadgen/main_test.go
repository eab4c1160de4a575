package main

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want int64
	}{
		{0, 0},
		{999 * time.Microsecond, 999},
		{1234 * time.Microsecond, 1230},
		{98765 * time.Microsecond, 98700},
		{1500 * time.Millisecond, 1500000},
	} {
		if got := bucket(c.in); got != c.want {
			t.Errorf("bucket(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPercentilesNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	p := pct(ds)
	if p.P50 != 500 || p.P99 != 990 || p.P999 != 999 || p.Max != 1000 {
		t.Errorf("pct = %+v", p)
	}
	if z := pct(nil); z.Max != 0 {
		t.Errorf("pct(nil) = %+v", z)
	}
}

func TestClassify(t *testing.T) {
	if got := classify(errString("proxyconnect tcp: dial tcp 127.0.0.1:1: connect: connection refused")); got != "proxy" {
		t.Errorf("classify proxyconnect = %q", got)
	}
	if got := classify(errString("tls: failed to verify certificate: x509: certificate signed by unknown authority")); got != "tls" {
		t.Errorf("classify tls = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
