package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
)

// post sends a getsender text to the relay's route for host, without
// failing the test (it runs on worker goroutines).
func (e *env) postGetsender(host, rcpt, text string) (answer, error) {
	path, body := textRequest(config.Getsender, rcpt, text)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + host + path + "?apiVersion=01&client=" + clientGetsender + "&token=" + tokenGetsender + "&sign=x")
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := e.cli.DoTimeout(req, resp, 20*time.Second); err != nil {
		return answer{}, err
	}
	return answer{resp.StatusCode(), string(resp.Body())}, nil
}

// reloaded returns a copy of cfg for a reload: the plugin pools resized
// (which loads every plugin again beside the old ones and drains the old
// pools) and, when extra, one more route.
func reloaded(t *testing.T, cfg *config.Config, pool int, extra bool) *config.Config {
	t.Helper()
	c := *cfg
	c.Plugins.PoolSize = pool
	c.Routes = slices.Clone(cfg.Routes)
	if extra {
		r := config.Route{Name: "reload-extra", Host: "extra.relay", Dialect: config.Getsender, Target: config.Netease}
		r.Auth.Clients = []config.Client{{ID: clientGetsender, Token: config.SecretValue(tokenGetsender)}}
		c.Routes = append(c.Routes, r)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestReloadUnderLoad reloads the relay several times while clients send
// without pause: no request may fail, and the last configuration must be
// the one in effect afterwards.
func TestReloadUnderLoad(t *testing.T) {
	e := newEnv(t, nil)
	base := e.relay.Config()
	const workers, perWorker, reloads = 4, 400, 4

	var (
		done, failed atomic.Int64
		firstErr     atomic.Value
		started      sync.WaitGroup
		finished     sync.WaitGroup
		stop         = make(chan struct{})
	)
	started.Add(workers)
	finished.Add(workers)
	for w := range workers {
		go func() {
			defer finished.Done()
			for i := range perWorker {
				a, err := e.postGetsender(config.Netease+".relay", "bob", fmt.Sprintf("w%d-%d", w, i))
				if err == nil && !accepted(config.Getsender, a, "bob") {
					err = fmt.Errorf("not accepted: %d %s", a.status, a.body)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				done.Add(1)
				if i == 0 {
					started.Done()
				}
				select {
				case <-stop:
					if i > 0 {
						return
					}
				default:
				}
			}
		}()
	}
	started.Wait()
	before := done.Load()
	hashes := map[string]bool{}
	for i := range reloads {
		cfg := reloaded(t, base, 2+i%2, i == reloads-1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.relay.Reload(ctx, cfg); err != nil {
			cancel()
			t.Fatalf("reload %d: %v", i, err)
		}
		cancel()
		for _, p := range e.relay.Plugins() {
			if p.PoolSize != 2+i%2 {
				t.Errorf("reload %d: plugin %s has pool size %d", i, p.Name, p.PoolSize)
			}
			hashes[p.SHA256] = true
		}
	}
	during := done.Load() - before
	close(stop)
	finished.Wait()

	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during the reloads; first: %v", n, done.Load(), firstErr.Load())
	}
	if during == 0 {
		t.Fatal("no request was answered while the relay reloaded: the test did not overlap load and reloads")
	}
	t.Logf("%d requests, %d of them while reloading %d times", done.Load(), during, reloads)

	// The last configuration is in effect: its extra route answers.
	if got := e.relay.Config().Routes; got[len(got)-1].Name != "reload-extra" {
		t.Fatalf("the last route in effect is %q", got[len(got)-1].Name)
	}
	a, err := e.postGetsender("extra.relay", "carol", "after the reload")
	if err != nil || !accepted(config.Getsender, a, "carol") {
		t.Fatalf("the route added by the reload: %v %d %s", err, a.status, a.body)
	}
	// Every plugin of the old pools has been drained and closed: the
	// plugins in effect are the only ones with instances.
	for _, p := range e.relay.Plugins() {
		if p.Stats.Live == 0 {
			t.Errorf("plugin %s in effect has no instance", p.Name)
		}
	}
}

// TestReloadRefusesFixedKeys: a reload cannot move a listener, and a
// refused reload leaves the configuration in effect.
func TestReloadRefusesFixedKeys(t *testing.T) {
	e := newEnv(t, nil)
	// One request first, so the relay is surely serving when the test's
	// cleanup shuts it down.
	if a, err := e.postGetsender(config.Netease+".relay", "bob", "before"); err != nil || !accepted(config.Getsender, a, "bob") {
		t.Fatalf("%v %d %s", err, a.status, a.body)
	}
	base := e.relay.Config()
	c := *base
	c.Listeners = []config.Listener{{Addr: "127.0.0.1:1"}}
	err := e.relay.Reload(context.Background(), &c)
	if err == nil {
		t.Fatal("a reload that moves the listeners was accepted")
	}
	if e.relay.Config() != base {
		t.Fatal("a refused reload changed the configuration in effect")
	}
	t.Log(err)
}
