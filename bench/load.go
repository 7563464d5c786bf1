package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// load describes one measured run of the load generator: a fixed number
// of kept-alive connections, each with one request in flight at a time.
type load struct {
	Addr     string        // host:port of the target
	Conns    int           // connections, and workers
	Duration time.Duration // measured time
	Warmup   time.Duration // unrecorded time before it
	Max      int64         // cap on measured requests (0: 10 million)
	Rate     float64       // requests/s across all workers; 0 runs closed-loop

	// prepare sets everything constant in a worker's request.
	prepare func(w int, req *fasthttp.Request)
	// refresh, when set, updates the request before each send (signatures).
	refresh func(req *fasthttp.Request, now time.Time)
	// ok tells a successful answer from a failure.
	ok func(resp *fasthttp.Response) bool
}

// outcome is what a run measured.
type outcome struct {
	Requests int64
	Errors   int64
	Elapsed  time.Duration
	Hist     hist
	FirstErr string
}

func (o *outcome) rps() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Requests) / o.Elapsed.Seconds()
}

// run drives the target: warm-up first, then the measured window, during
// which between() is called at its start and end (CPU sampling). Every
// loop is bounded by time and by count.
func (l load) run(between func(start bool)) (*outcome, error) {
	if l.Max <= 0 {
		l.Max = 10_000_000
	}
	c := &fasthttp.HostClient{
		Addr:                          l.Addr,
		MaxConns:                      l.Conns,
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxResponseBodySize:           4 << 20,
	}
	defer c.CloseIdleConnections()
	if l.Warmup > 0 {
		w := l
		w.Duration, w.Rate, w.Max = l.Warmup, 0, l.Max
		if _, err := w.drive(c); err != nil {
			return nil, fmt.Errorf("bench: warm-up: %w", err)
		}
	}
	if between != nil {
		between(true)
	}
	o, err := l.drive(c)
	if between != nil {
		between(false)
	}
	return o, err
}

func (l load) drive(c *fasthttp.HostClient) (*outcome, error) {
	per := l.Max / int64(l.Conns)
	per = max(per, 1)
	var interval time.Duration
	if l.Rate > 0 {
		interval = time.Duration(float64(l.Conns) / l.Rate * float64(time.Second))
	}
	parts := make([]outcome, l.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(l.Duration)
	for w := range l.Conns {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			o := &parts[w]
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			l.prepare(w, req)
			// Paced workers start spread over one interval.
			next := start.Add(interval * time.Duration(w) / time.Duration(l.Conns))
			for i := int64(0); i < per; i++ {
				t0 := time.Now()
				if interval > 0 {
					if d := next.Sub(t0); d > 0 {
						time.Sleep(d)
					}
					// Latency counts from the intended send time, so a
					// stalled target is not hidden (coordinated omission).
					t0 = next
					next = next.Add(interval)
				}
				if t0.After(deadline) {
					return
				}
				if l.refresh != nil {
					l.refresh(req, t0)
				}
				err := c.DoTimeout(req, resp, 10*time.Second)
				o.Hist.record(time.Since(t0))
				o.Requests++
				if err != nil || !l.ok(resp) {
					o.Errors++
					if o.FirstErr == "" {
						if err != nil {
							o.FirstErr = err.Error()
						} else {
							o.FirstErr = fmt.Sprintf("status %d: %.200s", resp.StatusCode(), resp.Body())
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	total := &outcome{Elapsed: time.Since(start)}
	for i := range parts {
		p := &parts[i]
		total.Requests += p.Requests
		total.Errors += p.Errors
		total.Hist.merge(&p.Hist)
		if total.FirstErr == "" {
			total.FirstErr = p.FirstErr
		}
	}
	if total.Requests == 0 {
		return total, fmt.Errorf("bench: no request completed against %s", l.Addr)
	}
	return total, nil
}
