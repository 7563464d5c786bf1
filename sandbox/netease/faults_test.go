package netease

import (
	"net/url"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

func (h *harness) setFaults(f emu.Faults) {
	h.t.Helper()
	if err := h.e.Core().Faults.Set(f); err != nil {
		h.t.Fatal(err)
	}
}

func TestFaultErrorRate(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{ErrorRate: 1})
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeInternal, "server error")
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeInternal, "server error")
	h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", v2Text).wantCode(t, v2, CodeInternal, "server error")
	// The v2 batch reports the failure per receiver.
	a := h.v2("/im/v2/conversations/messages", batchV2("alice", []string{"bob", "carol"}, `{"message_type":0,"text":"x"}`))
	a.wantCode(t, v2, CodeOK, "")
	if n := len(a.json.Get("data.success_list").Array()); n != 0 {
		t.Fatalf("success_list %s", a.json.Get("data.success_list").Raw)
	}
	for _, f := range a.json.Get("data.failed_list").Array() {
		if f.Get("error_code").Int() != CodeInternal {
			t.Fatalf("failed entry %s", f.Raw)
		}
	}
	if n := len(h.inbox()); n != 0 {
		t.Fatalf("%d failed messages in the inbox", n)
	}
	// Authentication and validation still come first.
	h.do(call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode(), unsigned: true}).wantCode(t, v1, CodeParam, descAppKey)
	f := textForm()
	f.Del("to")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeParam, "to: required")
	if got := h.e.Core().Faults.Stats().Failed; got != 5 {
		t.Fatalf("stats: %d failures, want 5", got)
	}
}

// A partial error rate fails some receivers of a batch and not others,
// deterministically for a seed.
func TestFaultErrorRatePartialBatch(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{ErrorRate: 0.5})
	a := h.v2("/im/v2/conversations/messages", batchV2("alice", accids(40), `{"message_type":0,"text":"x"}`))
	ok, failed := len(a.json.Get("data.success_list").Array()), len(a.json.Get("data.failed_list").Array())
	if ok == 0 || failed == 0 || ok+failed != 40 || len(h.inbox()) != ok {
		t.Fatalf("%d ok, %d failed, %d in inbox", ok, failed, len(h.inbox()))
	}
}

func TestFaultRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{RateLimit: 1, RateBurst: 1})
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeOK, "")
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeFreqControl, descFreq)
	h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", v2Text).wantCode(t, v2, CodeFreqControl, descFreq)
	h.clk.Advance(time.Second)
	h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", v2Text).wantCode(t, v2, CodeOK, "")
}

// NetEase has no tokens: forced expiry changes nothing and is not consumed.
func TestFaultExpireTokensIgnored(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{ExpireTokens: 2})
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeOK, "")
	h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", v2Text).wantCode(t, v2, CodeOK, "")
	if left := h.e.Core().Faults.Get().ExpireTokens; left != 2 {
		t.Fatalf("expire_tokens left %d, want 2", left)
	}
}

func TestFaultDrop(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{DropRate: 1})
	if _, err := h.try(call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode()}); err == nil {
		t.Fatal("dropped call answered")
	}
	if n := len(h.inbox()); n != 0 {
		t.Fatalf("%d messages from dropped calls", n)
	}
}

func TestFaultLatency(t *testing.T) {
	h := newHarness(t, nil)
	h.setFaults(emu.Faults{Latency: emu.Duration(150 * time.Millisecond)})
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeOK, "")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.slept) != 1 || h.slept[0] != 150*time.Millisecond {
		t.Fatalf("slept %v", h.slept)
	}
}

// The admin surface of package emu answers on the emulator's handler,
// unauthenticated, and filters the inbox by recipient.
func TestAdminSurface(t *testing.T) {
	h := newHarness(t, nil)
	h.v1("sendMsg.action", textForm())
	f := textForm()
	f.Set("to", "carol")
	h.v1("sendMsg.action", f)

	a := h.do(call{method: fasthttp.MethodGet, uri: emu.Prefix + "inbox?to=carol", unsigned: true})
	if a.status != 200 || a.json.Get("count").Int() != 1 || a.json.Get("messages.0.to.0").Str != "carol" ||
		a.json.Get("messages.0.vendor").Str != Vendor {
		t.Fatalf("inbox: %d %s", a.status, a.body)
	}
	info := h.do(call{method: fasthttp.MethodGet, uri: emu.Prefix + "info", unsigned: true})
	if info.json.Get("app_key").Str != testKey || info.json.Get("app_secret").Str != testSecret || info.json.Get("vendor").Str != Vendor {
		t.Fatalf("info: %s", info.body)
	}
	a = h.do(call{method: fasthttp.MethodPut, uri: emu.Prefix + "faults", body: `{"error_rate":1}`, unsigned: true})
	if a.status != 200 {
		t.Fatalf("faults: %d %s", a.status, a.body)
	}
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeInternal, "")
}

func TestUnknownPathAndMethod(t *testing.T) {
	h := newHarness(t, nil)
	a := h.do(call{uri: "/nimserver/msg/recall.action", body: url.Values{}.Encode()})
	if a.status != fasthttp.StatusNotFound || a.json.Get("code").Int() != CodeNotFound {
		t.Fatalf("unknown path: %d %s", a.status, a.body)
	}
	for _, p := range []string{"/im/v2/conversations/a%7C1%7Cb/c/messages", "/im/v2/conversations//messages/x", "/nimserver/"} {
		if a := h.do(call{uri: p, body: v2Text}); a.status != fasthttp.StatusNotFound {
			t.Fatalf("%s: %d %s", p, a.status, a.body)
		}
	}
	a = h.do(call{method: fasthttp.MethodGet, uri: "/nimserver/msg/sendMsg.action"})
	if a.status != fasthttp.StatusMethodNotAllowed || gjson.Get(a.body, "desc").Str == "" {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
}
