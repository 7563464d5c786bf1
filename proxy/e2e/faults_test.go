package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// gsCode is a getsender client's answer code.
func gsCode(a answer) int64 { return gjson.Get(a.body, "code").Int() }

// TestVendorFaults: a getsender client sends to every target while the
// target fails every call, then while it rate-limits. The client gets the
// canonical code in its own dialect, the vendor saw exactly one call per
// message (no resend), and its inbox holds exactly what was reported sent.
func TestVendorFaults(t *testing.T) {
	if !codecAvailable(config.Getsender) {
		t.Skip("needs plugins/getsender built")
	}
	e := newEnv(t, nil)
	in := config.Getsender
	for _, target := range e.dialect {
		t.Run(target, func(t *testing.T) {
			core := e.vendors[target].core
			defer func() { must(t, core.Faults.Set(emu.Faults{})) }()

			// 5xx (or the vendor's internal error): not sent, said so, one call.
			must(t, core.Faults.Set(emu.Faults{ErrorRate: 1}))
			rcpt := "err5xx" + target[:3]
			path, body := textRequest(in, rcpt, "fails upstream")
			a := e.send(in, target, good, path, body)
			if accepted(in, a, rcpt) || gsCode(a) != 500 {
				t.Errorf("internal error: answer %s, want getsender code 500", clip(a.body))
			}
			if st := core.Faults.Stats(); st.Failed != 1 {
				t.Errorf("internal error: the vendor failed %d calls, want exactly 1 (no resend)", st.Failed)
			}
			if n := len(e.inbox(target, rcpt)); n != 0 {
				t.Errorf("internal error: %d messages arrived", n)
			}

			// Rate limit: one call a long while, a burst of one.
			if target == config.Youdu {
				return // Youdu documents no rate-limit answer (sandbox/youdu README)
			}
			// A call without faults first, so that a vendor token is cached
			// and the bucket counts message calls only.
			must(t, core.Faults.Set(emu.Faults{}))
			path, body = textRequest(in, "warm"+target[:3], "warm up")
			if a := e.send(in, target, good, path, body); !accepted(in, a, "warm"+target[:3]) {
				t.Fatalf("warm-up refused: %s", clip(a.body))
			}
			must(t, core.Faults.Set(emu.Faults{RateLimit: 0.001, RateBurst: 1}))
			first, second := "rl1"+target[:3], "rl2"+target[:3]
			path, body = textRequest(in, first, "within the limit")
			if a := e.send(in, target, good, path, body); !accepted(in, a, first) {
				t.Fatalf("first call under the limit refused: %s", clip(a.body))
			}
			path, body = textRequest(in, second, "over the limit")
			a = e.send(in, target, good, path, body)
			if accepted(in, a, second) || gsCode(a) != 429 {
				t.Errorf("rate limited: answer %s, want getsender code 429", clip(a.body))
			}
			if st := core.Faults.Stats(); st.Limited != 1 {
				t.Errorf("rate limited: the vendor limited %d calls, want 1", st.Limited)
			}
			if n1, n2 := len(e.inbox(target, first)), len(e.inbox(target, second)); n1 != 1 || n2 != 0 {
				t.Errorf("rate limited: inboxes %d and %d, want 1 and 0", n1, n2)
			}
		})
	}
}

// TestBatchExactOutcomes: an opapp client sends twenty messages in one
// request to opapp, which fails each message with probability one half.
// Every message is either in the answer's failed list or in the vendor's
// inbox exactly once, never both, never neither.
func TestBatchExactOutcomes(t *testing.T) {
	if !codecAvailable(config.Opapp) {
		t.Skip("needs plugins/opapp built")
	}
	e := newEnv(t, nil)
	core := e.vendors[config.Opapp].core
	seed := int64(7)
	must(t, core.Faults.Set(emu.Faults{ErrorRate: 0.5, Seed: &seed}))
	const n = 20
	var msgs []string
	for i := 0; i < n; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"bx%d","msgType":"txt","msg":"m%d","targetType":"users"},"fileUrl":""}`, i, i))
	}
	a := e.send(config.Opapp, config.Opapp, good, "/opapp/send2EasemobMessage", `{"reqUrl":"/x","messages":[`+strings.Join(msgs, ",")+`]}`)
	failed := map[string]bool{}
	for _, m := range gjson.Get(a.body, "data").Array() {
		failed[m.Get("msgBody.toUser").String()] = true
	}
	st := core.Faults.Stats()
	if len(failed) == 0 || len(failed) == n || int64(len(failed)) != st.Failed {
		t.Fatalf("answer %s lists %d failures, the vendor failed %d: want a partial failure, listed exactly", clip(a.body), len(failed), st.Failed)
	}
	if gsCode(a) != 500 {
		t.Errorf("answer code %d, want opapp's partial-failure 500", gsCode(a))
	}
	for i := 0; i < n; i++ {
		to := fmt.Sprintf("bx%d", i)
		got := len(e.inbox(config.Opapp, to))
		switch {
		case failed[to] && got != 0:
			t.Errorf("%s reported failed but arrived %d times", to, got)
		case !failed[to] && got != 1:
			t.Errorf("%s reported sent but arrived %d times", to, got)
		}
	}
}

// fixture returns a plugins.files entry for a host fixture module.
func fixture(t *testing.T, name string) config.PluginFile {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "wasmhost", "testdata", name, name+".wasm"))
	must(t, err)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("needs the fixture %s built (make plugins): %v", name, err)
	}
	sum := sha256.Sum256(b)
	return config.PluginFile{Path: p, SHA256: hex.EncodeToString(sum[:])}
}

// syncBuffer is a log sink tests read while the relay writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPluginFaults puts a misbehaving middleware on one route each (a
// trap, an endless loop, a memory blow-up, garbage output) beside a
// healthy route. Each bad call fails cleanly in the client's dialect and
// sends nothing; the healthy route keeps delivering; a plugin that keeps
// crashing is backed off, answered busy, and reported in the log and in
// its counters.
func TestPluginFaults(t *testing.T) {
	if !codecAvailable(config.Getsender) || !codecAvailable(config.Netease) {
		t.Skip("needs plugins/getsender and plugins/netease built")
	}
	bad := []string{"trap", "loop", "alloc", "garbage"}
	logs := &syncBuffer{}
	e := newEnvWith(t, func(c *config.Config) {
		c.Plugins.CallTimeout = 500 * time.Millisecond // stops the loop
		c.Plugins.MemoryLimit = 64 << 20               // the blow-up hits this
		c.Plugins.RecycleMemory = 32 << 20
		c.Plugins.Files = map[string]config.PluginFile{}
		for _, f := range bad {
			c.Plugins.Files[f] = fixture(t, f)
			c.Routes = append(c.Routes, config.Route{
				Name: "fault-" + f, Host: f + ".relay", Dialect: config.Getsender, Target: config.Netease,
				Middleware: []string{f}, Policy: config.PolicyDegrade,
				Auth: config.Auth{Clients: []config.Client{{ID: clientGetsender, Token: config.SecretValue(tokenGetsender)}}},
			})
		}
	}, proxy.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	healthy := func(i int) {
		t.Helper()
		rcpt := fmt.Sprintf("ok%d", i)
		path, body := textRequest(config.Getsender, rcpt, "still served")
		if a := e.send(config.Getsender, config.Netease, good, path, body); !accepted(config.Getsender, a, rcpt) {
			t.Fatalf("the healthy route failed after a plugin fault: %s", clip(a.body))
		}
		if n := len(e.inbox(config.Netease, rcpt)); n != 1 {
			t.Fatalf("healthy message arrived %d times", n)
		}
	}
	before := inboxTotal(e)
	for i, f := range bad {
		rcpt := "victim" + f
		path, body := textRequest(config.Getsender, rcpt, "through a bad plugin")
		a := e.send(config.Getsender, f, good, path, body)
		if gsCode(a) != 500 || !strings.Contains(gjson.Get(a.body, "message").String(), "plugin "+f+" failed") {
			t.Errorf("%s: answer %s, want getsender code 500 naming the plugin", f, clip(a.body))
		}
		if st := e.relay.Plugin(f).Stats(); st.Faults != 1 {
			t.Errorf("%s: %d faults counted, want 1", f, st.Faults)
		}
		healthy(i)
	}
	if got := inboxTotal(e) - before; got != len(bad) {
		t.Errorf("%d messages reached the vendors, want only the %d healthy ones", got, len(bad))
	}

	// The trap keeps crashing: after CrashLimit (5) faults in a row the
	// plugin backs off and its route answers busy at once.
	path, body := textRequest(config.Getsender, "victimtrap", "again")
	for i := 1; i < 5; i++ {
		if a := e.send(config.Getsender, "trap", good, path, body); gsCode(a) != 500 {
			t.Fatalf("trap call %d: %s", i+1, clip(a.body))
		}
	}
	a := e.send(config.Getsender, "trap", good, path, body)
	if gsCode(a) != 503 {
		t.Errorf("after 5 crashes: answer %s, want getsender busy 503", clip(a.body))
	}
	if st := e.relay.Plugin("trap").Stats(); st.Backoffs != 1 || st.Faults != 5 {
		t.Errorf("trap counters %+v, want 5 faults and 1 back-off", st)
	}
	healthy(len(bad))
	l := logs.String()
	if !strings.Contains(l, "backing off") || strings.Count(l, `"plugin failed"`) < len(bad) {
		t.Errorf("the log does not report the faults and the back-off:\n%s", clip(l))
	}
	if n := len(e.inbox(config.Netease, "victimtrap")); n != 0 {
		t.Errorf("the trap route delivered %d messages", n)
	}
}

// TestOverload: with room for three requests, three held by a slow vendor
// fill the relay; more requests are answered busy at once, in the client's
// dialect, and send nothing; when the slow ones finish, the relay serves
// again.
func TestOverload(t *testing.T) {
	if !codecAvailable(config.Getsender) || !codecAvailable(config.Netease) {
		t.Skip("needs plugins/getsender and plugins/netease built")
	}
	const capacity = 3
	e := newEnv(t, func(c *config.Config) { c.Limits.MaxConcurrent = capacity })
	core := e.vendors[config.Netease].core
	must(t, core.Faults.Set(emu.Faults{Latency: emu.Duration(3 * time.Second)}))

	var wg sync.WaitGroup
	held := make(chan answer, capacity)
	for i := 0; i < capacity; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcpt := fmt.Sprintf("held%d", i)
			path, body := textRequest(config.Getsender, rcpt, "slow")
			held <- e.send(config.Getsender, config.Netease, good, path, body)
		}()
	}
	// The vendor counts a delayed call when it starts waiting: once it
	// has counted three, the relay is full.
	deadline := time.Now().Add(10 * time.Second)
	for core.Faults.Stats().Delayed < capacity {
		if time.Now().After(deadline) {
			t.Fatal("the held requests never reached the vendor")
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	for i := 0; i < 2*capacity; i++ {
		rcpt := fmt.Sprintf("shed%d", i)
		path, body := textRequest(config.Getsender, rcpt, "over capacity")
		a := e.send(config.Getsender, config.Netease, good, path, body)
		if gsCode(a) != 503 {
			t.Errorf("request %d over capacity: %s, want getsender busy 503", i, clip(a.body))
		}
		if len(held) != 0 {
			t.Fatal("a held request finished before the shedding was checked")
		}
	}
	wg.Wait()
	close(held)
	for a := range held {
		if gsCode(a) != 200 {
			t.Errorf("a held request failed: %s", clip(a.body))
		}
	}
	must(t, core.Faults.Set(emu.Faults{}))
	path, body := textRequest(config.Getsender, "after", "recovered")
	if a := e.send(config.Getsender, config.Netease, good, path, body); !accepted(config.Getsender, a, "after") {
		t.Errorf("no recovery: %s", clip(a.body))
	}
	for i := 0; i < 2*capacity; i++ {
		if n := len(e.inbox(config.Netease, fmt.Sprintf("shed%d", i))); n != 0 {
			t.Errorf("a shed request was delivered %d times", n)
		}
	}
}
