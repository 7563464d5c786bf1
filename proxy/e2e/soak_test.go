package e2e

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak runs text traffic through every pair for IMRELAY_SOAK (a Go
// duration; `make soak`, default ten minutes) and checks that the
// process's resident memory and the plugins' linear memory stay flat:
// after a warm-up of a tenth of the run, no later sample may exceed the
// warm level by more than a quarter plus 64 MiB (RSS) or 32 MiB per
// plugin (linear memory, which never shrinks inside an instance).
// Skipped unless IMRELAY_SOAK is set: it is not part of the default run.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("IMRELAY_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set IMRELAY_SOAK=10m (make soak) to run the soak test")
	}
	e := newEnv(t, nil)
	type pair struct{ in, out string }
	var pairs []pair
	for _, in := range e.dialect {
		for _, out := range e.dialect {
			pairs = append(pairs, pair{in, out})
		}
	}
	sample := func() (rss, plug uint64) {
		for _, name := range e.dialect {
			if p := e.relay.Plugin(name); p != nil {
				plug += p.Stats().Memory
			}
		}
		return residentBytes(), plug
	}

	stop := time.Now().Add(d)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				p := pairs[(i*4+w)%len(pairs)]
				rcpt := fmt.Sprintf("soak%d", w)
				path, body := textRequest(p.in, rcpt, "soak "+strconv.Itoa(i))
				if a := e.send(p.in, p.out, good, path, body); !accepted(p.in, a, rcpt) {
					failed.Add(1)
				}
				sent.Add(1)
			}
		}()
	}

	warmAt := time.Now().Add(d / 10)
	tick := min(10*time.Second, max(d/20, time.Second))
	var warmRSS, warmPlug, peakRSS, peakPlug uint64
	warm := false
	for now := range time.Tick(tick) {
		if now.After(stop) {
			break
		}
		runtime.GC()
		rss, plug := sample()
		switch {
		case !warm && now.After(warmAt):
			warm, warmRSS, warmPlug = true, rss, plug
		case warm:
			peakRSS, peakPlug = max(peakRSS, rss), max(peakPlug, plug)
		}
		t.Logf("%s: sent %d (failed %d), rss %d MiB, plugin memory %d MiB", now.Format(time.TimeOnly), sent.Load(), failed.Load(), rss>>20, plug>>20)
		for _, v := range e.vendors {
			v.core.Inbox.Clear()
		}
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d messages were not accepted", failed.Load(), sent.Load())
	}
	if !warm {
		t.Fatal("the run was too short to take a warm sample")
	}
	if bound := warmRSS + warmRSS/4 + 64<<20; peakRSS > bound {
		t.Errorf("RSS grew from %d MiB after warm-up to %d MiB (bound %d MiB)", warmRSS>>20, peakRSS>>20, bound>>20)
	}
	if bound := warmPlug + uint64(len(e.dialect))*32<<20; peakPlug > bound {
		t.Errorf("plugin memory grew from %d MiB to %d MiB (bound %d MiB)", warmPlug>>20, peakPlug>>20, bound>>20)
	}
	if sent.Load() == 0 {
		t.Error("nothing was sent")
	}
}

// residentBytes is the process's resident set size (Linux), or the Go
// runtime's view of the memory it holds elsewhere.
func residentBytes() uint64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Sys - m.HeapReleased
}
