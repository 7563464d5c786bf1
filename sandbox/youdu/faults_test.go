package youdu

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

func (h *harness) setFaults(f emu.Faults) {
	h.t.Helper()
	if err := h.e.Core().Faults.Set(f); err != nil {
		h.t.Fatal(err)
	}
}

// Forced expiry: the next authenticated call gets 100002 whatever its
// token, and that token stays expired; a new token works.
func TestFaultExpireTokens(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	h.setFaults(emu.Faults{ExpireTokens: 1})
	h.sendWith(tok, testApp, textPayload("alice", "1")).want(t, CodeTokenExpired)
	h.sendWith(tok, testApp, textPayload("alice", "2")).want(t, CodeTokenExpired)
	h.sendWith(h.token(testApp), testApp, textPayload("alice", "3")).want(t, CodeOK)
	if n := len(h.inbox()); n != 1 {
		t.Fatalf("inbox holds %d", n)
	}
	// gettoken is not authenticated: it never consumes a forced expiry.
	h.setFaults(emu.Faults{ExpireTokens: 1})
	h.token(testApp)
	if left := h.e.Core().Faults.Get().ExpireTokens; left != 1 {
		t.Fatalf("expire_tokens left %d", left)
	}
	// A missing or unknown token is reported as such, not as expired.
	h.post("/cgi/msg/send?accessToken=nosuch", h.seal(testApp, textPayload("a", "x")), "").want(t, CodeTokenNotExist)
}

func TestFaultErrorRate(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	h.setFaults(emu.Faults{ErrorRate: 1})
	h.sendWith(tok, testApp, textPayload("alice", "x")).want(t, CodeInternal)
	h.post("/cgi/gettoken", h.seal(testApp, "1700000000"), "").want(t, CodeInternal)
	// Authentication and validation come first.
	h.sendWith("nosuch", testApp, textPayload("alice", "x")).want(t, CodeTokenNotExist)
	h.sendWith(tok, testApp, `{"msgType":"text","text":{"content":"x"}}`).want(t, CodeBadRequest)
	if n := len(h.inbox()); n != 0 {
		t.Fatalf("inbox holds %d", n)
	}
}

// Youdu documents no rate limit; the fault answers HTTP 429 with a
// Youdu-shaped body.
func TestFaultRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	h.setFaults(emu.Faults{RateLimit: 1, RateBurst: 1})
	h.sendWith(tok, testApp, textPayload("alice", "1")).want(t, CodeOK)
	a := h.sendWith(tok, testApp, textPayload("alice", "2"))
	if a.status != fasthttp.StatusTooManyRequests || a.json.Get("errcode").Int() != CodeInternal || a.json.Get("errmsg").Str == "" {
		t.Fatalf("limited: %d %s", a.status, a.body)
	}
	h.clk.Advance(time.Second)
	h.sendWith(tok, testApp, textPayload("alice", "3")).want(t, CodeOK)
}

func TestFaultDropAndLatency(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{DropRate: 1})
	if _, err := h.try(fasthttp.MethodPost, "/cgi/gettoken", h.seal(testApp, "1700000000"), ""); err == nil {
		t.Fatal("dropped call answered")
	}
	h.setFaults(emu.Faults{Latency: emu.Duration(2 * time.Second)})
	h.token(testApp)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.slept) != 1 || h.slept[0] != 2*time.Second {
		t.Fatalf("slept %v", h.slept)
	}
}

func TestAdminSurface(t *testing.T) {
	h := newHarness(t, nil)
	h.send(testApp, textPayload("alice|bob", "x")).want(t, CodeOK)
	h.send(testApp, textPayload("carol", "y")).want(t, CodeOK)
	a, err := h.try(fasthttp.MethodGet, emu.Prefix+"inbox?to=bob", "", "")
	if err != nil || a.json.Get("count").Int() != 1 || a.json.Get("messages.0.body.text.content").Str != "x" {
		t.Fatalf("inbox: %v %s", err, a.body)
	}
	info, err := h.try(fasthttp.MethodGet, emu.Prefix+"info", "", "")
	if err != nil || info.json.Get("buin").Int() != testBuin || info.json.Get("apps.0.appId").Str != testApp ||
		info.json.Get("apps.0.encodingAESKey").Str != testKey {
		t.Fatalf("info: %v %s", err, info.body)
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	h := newHarness(t, nil)
	a := h.post("/cgi/user/get", "{}", "")
	if a.status != fasthttp.StatusNotFound || a.json.Get("errcode").Int() != CodeInvalidRequest {
		t.Fatalf("unknown path: %d %s", a.status, a.body)
	}
	a, err := h.try(fasthttp.MethodGet, "/cgi/gettoken", "", "")
	if err != nil || a.status != fasthttp.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %d %s", err, a.status, a.body)
	}
}
