// Command loadgen is the HTTP load generator of the Chaperone benchmarks (bench/run.ts drives it).
// Standard library only; Node load generators are too coarse on a small box.
//
// Two modes:
//
//	-rate N         open loop: sends are scheduled every 1/N s whatever happens; latency is measured
//	                from the scheduled time, so a stall shows in the percentiles instead of slowing
//	                the sender down (no coordinated omission).
//	-concurrency C  closed loop: C workers send back to back (saturation).
//
// After -warmup, requests are measured for -duration. One JSON object goes to stdout at the end;
// progress events go to stderr as JSON lines: {"event":"measuring"} when the warmup ends and
// {"event":"done"} when the measurement window closes (the driver samples CPU time at both).
// Every loop is bounded in time: the schedule ends at warmup+duration and each request has -timeout.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type config struct {
	url         string
	method      string
	body        []byte
	headers     http.Header
	rate        float64
	concurrency int
	maxInflight int
	maxConns    int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	stream      bool
}

// sample is one finished request.
type sample struct {
	start   time.Time // scheduled send time (open loop) or actual send time (closed loop)
	end     time.Time
	latency time.Duration // end - start: whole body read
	service time.Duration // end - actual send
	ttfb    time.Duration // start -> first body byte (zero when the body is empty)
	lag     time.Duration // actual send - scheduled send (open loop)
	status  int
	err     string // "" when the request succeeded (2xx, whole body read)
	errMsg  string
}

type worker struct {
	samples []sample
	buf     []byte
}

type runner struct {
	cfg    config
	client *http.Client
	dials  atomic.Int64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(2)
	}
}

func run() error {
	var (
		cfg       config
		bodyFile  string
		proxyURL  string
		headerArg multiFlag
		caFiles   multiFlag
		resolves  multiFlag
	)
	flag.StringVar(&cfg.url, "url", "", "target URL (required)")
	flag.StringVar(&cfg.method, "method", "", "HTTP method (default POST with -body, else GET)")
	flag.StringVar(&bodyFile, "body", "", "request body file")
	flag.Var(&headerArg, "header", "request header K:V (repeatable)")
	flag.StringVar(&proxyURL, "proxy", "", "forward proxy URL (http://host:port); used for every host, loopback included")
	flag.Var(&caFiles, "cacert", "PEM file of CA certificates to trust for TLS (repeatable; default: system roots)")
	flag.Var(&resolves, "resolve", "HOST[:PORT]=IP:PORT: dial this address for HOST (repeatable; TLS still verifies HOST)")
	flag.Float64Var(&cfg.rate, "rate", 0, "open loop: requests per second")
	flag.IntVar(&cfg.concurrency, "concurrency", 0, "closed loop: workers sending back to back")
	flag.IntVar(&cfg.maxInflight, "max-inflight", 256, "open loop: most requests in flight (later sends wait, still timed from their schedule)")
	flag.IntVar(&cfg.maxConns, "max-conns", 64, "open loop: connection pool size (closed loop: -concurrency); queued requests wait for a connection, still timed from their schedule")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measurement window")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "load before the window, not measured")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.BoolVar(&cfg.stream, "stream", false, "also report time to first body byte")
	flag.Parse()

	if cfg.url == "" {
		return errors.New("-url is required")
	}
	if (cfg.rate > 0) == (cfg.concurrency > 0) {
		return errors.New("give exactly one of -rate N or -concurrency C")
	}
	if cfg.duration <= 0 || cfg.warmup < 0 || cfg.timeout <= 0 || cfg.maxInflight < 1 || cfg.maxConns < 1 {
		return errors.New("-duration and -timeout must be positive, -warmup non-negative, -max-inflight and -max-conns >= 1")
	}
	if cfg.concurrency > 0 {
		cfg.maxConns = cfg.concurrency
	}
	if bodyFile != "" {
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			return err
		}
		cfg.body = b
	}
	if cfg.method == "" {
		cfg.method = http.MethodGet
		if cfg.body != nil {
			cfg.method = http.MethodPost
		}
	}
	cfg.headers = http.Header{}
	for _, h := range headerArg {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("-header %q: expected K:V", h)
		}
		cfg.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}

	r := &runner{cfg: cfg}
	client, err := r.newClient(proxyURL, caFiles, resolves)
	if err != nil {
		return err
	}
	r.client = client

	t0 := time.Now()
	measureStart := t0.Add(cfg.warmup)
	measureEnd := measureStart.Add(cfg.duration)
	events := make(chan struct{})
	go func() {
		defer close(events)
		time.Sleep(time.Until(measureStart))
		event("measuring")
		time.Sleep(time.Until(measureEnd))
		event("done")
	}()

	var workers []*worker
	if cfg.rate > 0 {
		workers = r.openLoop(t0, measureEnd)
	} else {
		workers = r.closedLoop(measureEnd)
	}
	// Both events are printed before the report, even when the window closed a moment ago.
	<-events
	return report(r, workers, measureStart, measureEnd)
}

func event(name string) {
	fmt.Fprintf(os.Stderr, "{\"event\":%q,\"t\":%d}\n", name, time.Now().UnixMilli())
}

func (r *runner) newClient(proxyURL string, caFiles, resolves []string) (*http.Client, error) {
	resolve := map[string]string{}
	for _, spec := range resolves {
		from, to, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("-resolve %q: expected HOST[:PORT]=IP:PORT", spec)
		}
		if _, _, err := net.SplitHostPort(to); err != nil {
			return nil, fmt.Errorf("-resolve %q: %v", spec, err)
		}
		resolve[strings.ToLower(from)] = to
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if to, ok := resolve[strings.ToLower(addr)]; ok {
				addr = to
			} else if to, ok := resolve[strings.ToLower(host)]; ok {
				addr = to
			}
			r.dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		// A bounded pool, as agents' SDKs have: without MaxConnsPerHost, Go dials a new connection for
		// every request that finds none idle, and a proxy that falls behind for a moment gets a storm
		// of CONNECTs and TLS handshakes. Every connection stays idle-pooled (no churn).
		MaxIdleConns:          0, // no global cap
		MaxConnsPerHost:       r.cfg.maxConns,
		MaxIdleConnsPerHost:   r.cfg.maxConns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: r.cfg.timeout,
		// HTTP/1.1 only, as agents' SDKs mostly speak through a proxy; the fake upstream is HTTP/1.1.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if proxyURL != "" {
		u, err := url.Parse(proxyURL)
		if err != nil {
			return nil, fmt.Errorf("-proxy: %v", err)
		}
		// http.ProxyURL: unlike ProxyFromEnvironment it never bypasses localhost.
		tr.Proxy = http.ProxyURL(u)
	}
	if len(caFiles) > 0 {
		pool := x509.NewCertPool()
		for _, f := range caFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-cacert %s: no certificate found", f)
			}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: r.cfg.timeout}, nil
}

// do sends one request and reads the whole answer.
func (r *runner) do(w *worker, scheduled time.Time) sample {
	sent := time.Now()
	if scheduled.IsZero() {
		scheduled = sent
	}
	s := sample{start: scheduled, lag: sent.Sub(scheduled)}
	req, err := http.NewRequest(r.cfg.method, r.cfg.url, bytes.NewReader(r.cfg.body))
	if err != nil {
		s.end, s.err, s.errMsg = time.Now(), "request", err.Error()
		return s
	}
	for k, v := range r.cfg.headers {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		s.end = time.Now()
		s.err, s.errMsg = classify(err), err.Error()
		return s
	}
	s.status = resp.StatusCode
	failed := resp.StatusCode < 200 || resp.StatusCode > 299
	var first time.Time
	var head []byte // the start of a failed answer's body, for the error sample
	for {
		n, rerr := resp.Body.Read(w.buf)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if failed && len(head) < 300 {
			head = append(head, w.buf[:min(n, 300-len(head))]...)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.err, s.errMsg = "body_"+classify(rerr), rerr.Error()
			break
		}
	}
	resp.Body.Close()
	s.end = time.Now()
	s.latency = s.end.Sub(scheduled)
	s.service = s.end.Sub(sent)
	if !first.IsZero() {
		s.ttfb = first.Sub(scheduled)
	}
	if s.err == "" && failed {
		s.err = fmt.Sprintf("status_%d", resp.StatusCode)
		s.errMsg = resp.Status + ": " + string(head)
	}
	return s
}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "conn_reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "proxyconnect"), strings.Contains(msg, "CONNECT"):
		return "proxy"
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), strings.Contains(msg, "certificate"):
		return "tls"
	}
	return "other"
}

func newWorker() *worker { return &worker{buf: make([]byte, 32<<10), samples: make([]sample, 0, 4096)} }

// openLoop schedules sends at a fixed rate until end; a pool of maxInflight workers sends them.
func (r *runner) openLoop(t0, end time.Time) []*worker {
	jobs := make(chan time.Time, r.cfg.maxInflight)
	workers, wg := startWorkers(r.cfg.maxInflight, func(w *worker) {
		for scheduled := range jobs {
			w.samples = append(w.samples, r.do(w, scheduled))
		}
	})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	interval := float64(time.Second) / r.cfg.rate
	for i := 0; ; i++ {
		scheduled := t0.Add(time.Duration(math.Round(float64(i) * interval)))
		if !scheduled.Before(end) {
			break
		}
		if d := time.Until(scheduled); d > 0 {
			preciseSleep(d)
		}
		jobs <- scheduled // blocks when maxInflight are busy and the queue is full: still timed from schedule
	}
	close(jobs)
	wg.Wait()
	return workers
}

// closedLoop runs C workers back to back until end.
func (r *runner) closedLoop(end time.Time) []*worker {
	workers, wg := startWorkers(r.cfg.concurrency, func(w *worker) {
		for time.Now().Before(end) {
			w.samples = append(w.samples, r.do(w, time.Time{}))
		}
	})
	wg.Wait()
	return workers
}

// startWorkers runs body on n new workers, each in its own goroutine; wait on the group for them.
func startWorkers(n int, body func(w *worker)) ([]*worker, *sync.WaitGroup) {
	workers := make([]*worker, n)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker()
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(w)
		}()
	}
	return workers, &wg
}

type percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type errorReport struct {
	Total   int               `json:"total"`
	ByKind  map[string]int    `json:"by_kind"`
	Samples map[string]string `json:"samples"` // one message per kind
}

type output struct {
	Mode        string         `json:"mode"`
	URL         string         `json:"url"`
	Rate        float64        `json:"rate,omitempty"`
	Concurrency int            `json:"concurrency,omitempty"`
	MaxConns    int            `json:"max_conns"`
	DurationS   float64        `json:"duration_s"`
	WarmupS     float64        `json:"warmup_s"`
	BodyBytes   int            `json:"body_bytes"`
	Count       int            `json:"count"` // successful requests in the window
	RPS         float64        `json:"rps"`
	Errors      errorReport    `json:"errors"` // failed requests in the window
	Status      map[string]int `json:"status"`
	LatencyUS   percentiles    `json:"latency_us"`
	TTFBUS      *percentiles   `json:"ttfb_us,omitempty"`
	// Histograms of the window's latencies (bucket lower bound in µs -> count; exact below 1 ms,
	// 3 significant digits above), so a driver can pool several runs into one set of percentiles.
	HistUS        map[string]int `json:"hist_us"`
	TTFBHistUS    map[string]int `json:"ttfb_hist_us,omitempty"`
	SendLagUS     *percentiles   `json:"send_lag_us,omitempty"`
	ServiceUS     *percentiles   `json:"service_us,omitempty"` // open loop: from the actual send, for diagnosis only
	WarmupCount   int            `json:"warmup_count"`
	WarmupErrors  errorReport    `json:"warmup_errors"`
	OutsideWindow int            `json:"outside_window"` // closed loop: finished after the window closed
	OutsideErrors errorReport    `json:"outside_errors"`
	Connections   int64          `json:"connections"` // TCP connections dialled (proxy or target)
	GoVersion     string         `json:"go_version"`
	GOMAXPROCS    int            `json:"gomaxprocs"`
}

func newErrors() errorReport {
	return errorReport{ByKind: map[string]int{}, Samples: map[string]string{}}
}

func (e *errorReport) add(s sample) {
	e.Total++
	e.ByKind[s.err]++
	if _, ok := e.Samples[s.err]; !ok {
		e.Samples[s.err] = s.errMsg
	}
}

func report(r *runner, workers []*worker, measureStart, measureEnd time.Time) error {
	cfg := r.cfg
	out := output{
		URL: cfg.url, DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(), BodyBytes: len(cfg.body),
		Errors: newErrors(), WarmupErrors: newErrors(), OutsideErrors: newErrors(), Status: map[string]int{},
		Connections: r.dials.Load(), MaxConns: cfg.maxConns, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if cfg.rate > 0 {
		out.Mode, out.Rate = "rate", cfg.rate
	} else {
		out.Mode, out.Concurrency = "concurrency", cfg.concurrency
	}
	var lat, ttfb, lag, service []time.Duration
	for _, w := range workers {
		for _, s := range w.samples {
			// Open loop: a request belongs to the window it was scheduled in (its latency may run past
			// the end). Closed loop: to the window it finished in.
			var inWindow, before bool
			if cfg.rate > 0 {
				inWindow = !s.start.Before(measureStart) && s.start.Before(measureEnd)
				before = s.start.Before(measureStart)
			} else {
				inWindow = !s.end.Before(measureStart) && !s.end.After(measureEnd)
				before = s.end.Before(measureStart)
			}
			switch {
			case before:
				out.WarmupCount++
				if s.err != "" {
					out.WarmupErrors.add(s)
				}
			case !inWindow:
				out.OutsideWindow++
				if s.err != "" {
					out.OutsideErrors.add(s)
				}
			default:
				if s.status != 0 {
					out.Status[fmt.Sprint(s.status)]++
				}
				if s.err != "" {
					out.Errors.add(s)
					continue
				}
				out.Count++
				lat = append(lat, s.latency)
				if cfg.stream {
					ttfb = append(ttfb, s.ttfb)
				}
				if cfg.rate > 0 {
					lag = append(lag, s.lag)
					service = append(service, s.service)
				}
			}
		}
	}
	out.RPS = round1(float64(out.Count) / cfg.duration.Seconds())
	out.LatencyUS, out.HistUS = pct(lat), hist(lat)
	if cfg.stream {
		p := pct(ttfb)
		out.TTFBUS, out.TTFBHistUS = &p, hist(ttfb)
	}
	if cfg.rate > 0 {
		p, q := pct(lag), pct(service)
		out.SendLagUS, out.ServiceUS = &p, &q
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(out)
}

func pct(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 {
		// nearest rank
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(ds) {
			i = len(ds) - 1
		}
		return us(ds[i])
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return percentiles{
		P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999),
		Max: us(ds[len(ds)-1]), Mean: us(sum / time.Duration(len(ds))),
	}
}

// bucket is the lower bound of d's histogram bucket in µs: exact below 1000 µs, else 3 significant digits.
func bucket(d time.Duration) int64 {
	v := int64(d / time.Microsecond)
	p := int64(1)
	for v/p >= 1000 {
		p *= 10
	}
	return v / p * p
}

func hist(ds []time.Duration) map[string]int {
	h := map[string]int{}
	for _, d := range ds {
		h[fmt.Sprint(bucket(d))]++
	}
	return h
}

func us(d time.Duration) float64 { return round1(float64(d) / float64(time.Microsecond)) }

func round1(f float64) float64 { return math.Round(f*10) / 10 }
