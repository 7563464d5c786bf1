package emu

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// harness runs a Core in memory with a trivial vendor API that records one
// message per call.
type harness struct {
	t      *testing.T
	core   *Core
	srv    *Server
	cli    *fasthttp.Client
	mu     sync.Mutex
	slept  []time.Duration
	called int
}

func newHarness(t *testing.T, ans Answers) *harness {
	t.Helper()
	h := &harness{t: t}
	h.core = New(Config{Vendor: "demo", Seed: 1, Now: NewManualClock(t0).Now, Sleep: func(d time.Duration) {
		h.mu.Lock()
		h.slept = append(h.slept, d)
		h.mu.Unlock()
	}})
	api := func(ctx *fasthttp.RequestCtx) {
		h.mu.Lock()
		h.called++
		h.mu.Unlock()
		if h.core.Faults.TakeExpiry() {
			WriteJSON(ctx, 401, map[string]string{"error": "expired"})
			return
		}
		id := h.core.NewIDString()
		h.core.Inbox.Add(Message{Vendor: "demo", Path: string(ctx.Path()), From: "me",
			To: strings.Split(string(ctx.QueryArgs().Peek("to")), ","), Type: "txt",
			Body: json.RawMessage(ctx.PostBody()), ID: id})
		WriteJSON(ctx, 200, map[string]string{"id": id})
	}
	h.srv = StartInMemory(h.core.Handler(api, ans, func() any { return map[string]string{"key": "k1"} }))
	t.Cleanup(func() {
		if err := h.srv.Close(); err != nil {
			t.Error(err)
		}
	})
	h.cli = h.srv.Client()
	return h
}

func (h *harness) do(method, uri, body string) (int, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://emu" + uri)
	req.SetBodyString(body)
	if err := h.cli.Do(req, resp); err != nil {
		return 0, "", err
	}
	return resp.StatusCode(), string(resp.Body()), nil
}

func (h *harness) must(method, uri, body string, want int) string {
	h.t.Helper()
	code, b, err := h.do(method, uri, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, uri, err)
	}
	if code != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, uri, code, want, b)
	}
	return b
}

func TestAdminInbox(t *testing.T) {
	h := newHarness(t, Answers{})
	h.must("POST", "/send?to=a,b", `{"x":1}`, 200)
	h.must("POST", "/send?to=b", `{"x":2}`, 200)
	h.must("POST", "/send?to=c", `{"x":3}`, 200)

	var page InboxPage
	if err := json.Unmarshal([]byte(h.must("GET", "/_sandbox/inbox?to=b", "", 200)), &page); err != nil {
		t.Fatal(err)
	}
	if page.Vendor != "demo" || page.Count != 2 || len(page.Messages) != 2 {
		t.Fatalf("%+v", page)
	}
	m := page.Messages[0]
	if m.Seq != 1 || m.Path != "/send" || m.From != "me" || string(m.Body) != `{"x":1}` || m.ID == "" ||
		strings.Join(m.To, ",") != "a,b" || !m.Time.Equal(t0) {
		t.Fatalf("%+v", m)
	}
	_ = json.Unmarshal([]byte(h.must("GET", "/_sandbox/inbox?since=2", "", 200)), &page)
	if page.Count != 1 || page.Messages[0].Seq != 3 {
		t.Fatalf("since: %+v", page)
	}
	h.must("GET", "/_sandbox/inbox?since=x", "", 400)
	if b := h.must("DELETE", "/_sandbox/inbox", "", 200); b != `{"cleared":3}` {
		t.Fatal(b)
	}
	if b := h.must("GET", "/_sandbox/inbox", "", 200); b != `{"vendor":"demo","count":0,"dropped":0,"messages":[]}` {
		t.Fatal(b)
	}
	h.must("POST", "/_sandbox/inbox", "", 405)
	h.must("GET", "/_sandbox/nothing", "", 404)
	h.must("GET", "/_sandbox", "", 404)
	if b := h.must("GET", "/_sandbox/info", "", 200); b != `{"key":"k1"}` {
		t.Fatal(b)
	}
}

func TestAdminFaults(t *testing.T) {
	h := newHarness(t, Answers{})
	b := h.must("GET", "/_sandbox/faults", "", 200)
	want := `{"latency":"0s","jitter":"0s","error_rate":0,"expire_tokens":0,"rate_limit":0,"rate_burst":0,` +
		`"message_rate":0,"message_burst":0,"drop_rate":0,"seed":1}`
	if b != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b = h.must("PUT", "/_sandbox/faults", `{"latency":"5ms","expire_tokens":1,"seed":9}`, 200)
	if !strings.Contains(b, `"latency":"5ms"`) || !strings.Contains(b, `"expire_tokens":1`) || !strings.Contains(b, `"seed":9`) {
		t.Fatal(b)
	}
	h.must("POST", "/send?to=a", `{}`, 401)
	if b := h.must("GET", "/_sandbox/faults", "", 200); !strings.Contains(b, `"expire_tokens":0`) {
		t.Fatal(b)
	}
	if b := h.must("GET", "/_sandbox/stats", "", 200); b != `{"delayed":1,"dropped":0,"failed":0,"limited":0,"message_limited":0,"expired":1}` {
		t.Fatal(b)
	}
	for _, bad := range []string{`{"error_rate":2}`, `{"nope":1}`, `not json`, `{"latency":"x"}`} {
		if b := h.must("PUT", "/_sandbox/faults", bad, 400); !strings.HasPrefix(b, `{"error":"emu: `) {
			t.Errorf("%s: %s", bad, b)
		}
	}
	if b := h.must("DELETE", "/_sandbox/faults", "", 200); !strings.Contains(b, `"latency":"0s"`) {
		t.Fatal(b)
	}
	h.must("PATCH", "/_sandbox/faults", "", 405)
}

func TestFaultLatency(t *testing.T) {
	h := newHarness(t, Answers{})
	_ = h.core.Faults.Set(Faults{Latency: Duration(30 * time.Millisecond)})
	h.must("POST", "/send?to=a", `{}`, 200)
	h.must("GET", "/_sandbox/inbox", "", 200) // admin calls are never delayed
	if len(h.slept) != 1 || h.slept[0] != 30*time.Millisecond {
		t.Fatalf("slept %v", h.slept)
	}
}

func TestFaultDrop(t *testing.T) {
	h := newHarness(t, Answers{})
	_ = h.core.Faults.Set(Faults{DropRate: 1})
	if _, _, err := h.do("POST", "/send?to=a", `{}`); err == nil {
		t.Fatal("dropped call answered")
	}
	if h.called != 0 || h.core.Inbox.Len() != 0 {
		t.Fatal("dropped call reached the vendor")
	}
	h.must("GET", "/_sandbox/faults", "", 200)
	_ = h.core.Faults.Set(Faults{})
	h.must("POST", "/send?to=a", `{}`, 200)
}

func TestFaultRateLimit(t *testing.T) {
	h := newHarness(t, Answers{Limited: func(ctx *fasthttp.RequestCtx) {
		WriteJSON(ctx, 403, map[string]string{"error": "slow down"})
	}})
	_ = h.core.Faults.Set(Faults{RateLimit: 1, RateBurst: 2})
	h.must("POST", "/send?to=a", `{}`, 200)
	h.must("POST", "/send?to=a", `{}`, 200)
	if b := h.must("POST", "/send?to=a", `{}`, 403); b != `{"error":"slow down"}` {
		t.Fatal(b)
	}
	h.must("GET", "/_sandbox/inbox", "", 200) // admin is not limited

	// Without a vendor answer: a bare 429.
	h2 := newHarness(t, Answers{})
	_ = h2.core.Faults.Set(Faults{RateLimit: 1})
	h2.must("POST", "/send?to=a", `{}`, 200)
	if b := h2.must("POST", "/send?to=a", `{}`, 429); b != "" {
		t.Fatal(b)
	}
}

func TestFaultErrorRate(t *testing.T) {
	h := newHarness(t, Answers{Internal: func(ctx *fasthttp.RequestCtx) {
		WriteJSON(ctx, 500, map[string]string{"error": "boom"})
	}})
	_ = h.core.Faults.Set(Faults{ErrorRate: 1})
	if b := h.must("POST", "/send?to=a", `{}`, 500); b != `{"error":"boom"}` {
		t.Fatal(b)
	}
	if h.called != 0 {
		t.Fatal("failed call reached the vendor")
	}
	// Without an Internal answer the vendor applies the rate itself.
	h2 := newHarness(t, Answers{})
	_ = h2.core.Faults.Set(Faults{ErrorRate: 1})
	h2.must("POST", "/send?to=a", `{}`, 200)
	if h2.called != 1 {
		t.Fatal("vendor not called")
	}
}

func TestStartTCP(t *testing.T) {
	srv, err := Start("127.0.0.1:0", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatal(srv.URL())
	}
	code, body, err := srv.Client().Get(nil, srv.URL()+"/x")
	if err != nil || code != 200 || string(body) != "ok" {
		t.Fatalf("%d %q %v", code, body, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if _, err := Start("127.0.0.1:-1", nil); err == nil || !strings.HasPrefix(err.Error(), "emu: listen") {
		t.Fatal(err)
	}
}

// TestCloseRightAfterStart covers a Close that runs before the serving
// goroutine has registered its listener.
func TestCloseRightAfterStart(t *testing.T) {
	for range 50 {
		srv, err := Start("127.0.0.1:0", func(*fasthttp.RequestCtx) {})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if err := StartInMemory(func(*fasthttp.RequestCtx) {}).Close(); err != nil {
			t.Fatal(err)
		}
	}
}
