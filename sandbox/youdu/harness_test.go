package youdu

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
)

const (
	testBuin  = 666666
	testApp   = "yd37D192E9F20E448192827A001A84D443"
	testKey   = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
	otherApp  = "ydOTHERAPP0000000000000000000000001"
	otherKey  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	sysMsgKey = "c3lzTXNnQXNzaXN0YW50S2V5MDEyMzQ1Njc4OWFiY2Q="
	mailKey   = "bWFpbEFzc2lzdGFudEtleTAxMjM0NTY3ODlhYmNkZWY="
)

var t0 = time.Unix(1700000000, 0)

type harness struct {
	t     *testing.T
	e     *Emulator
	clk   *emu.ManualClock
	srv   *emu.Server
	cli   *fasthttp.Client
	mu    sync.Mutex
	slept []time.Duration
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clk: emu.NewManualClock(t0)}
	cfg := Config{
		Buin: testBuin,
		Apps: []App{
			{ID: testApp, EncodingAESKey: testKey},
			{ID: otherApp, EncodingAESKey: otherKey},
			{ID: AppSysMsg, EncodingAESKey: sysMsgKey},
			{ID: AppSysEmail, EncodingAESKey: mailKey},
		},
	}
	cfg.Emu = emu.Config{Seed: 1, Now: h.clk.Now, Sleep: func(d time.Duration) {
		h.mu.Lock()
		h.slept = append(h.slept, d)
		h.mu.Unlock()
	}}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	h.srv = emu.StartInMemory(e.Handler())
	t.Cleanup(func() {
		if err := h.srv.Close(); err != nil {
			t.Error(err)
		}
	})
	h.cli = h.srv.Client()
	return h
}

// keyOf returns the EncodingAESKey of a test app.
func keyOf(app string) string {
	return map[string]string{testApp: testKey, otherApp: otherKey, AppSysMsg: sysMsgKey, AppSysEmail: mailKey}[app]
}

func cipherOf(t testing.TB, app string) *auth.YouduCipher {
	t.Helper()
	c, err := auth.NewYouduCipher(keyOf(app))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seal builds the request envelope of payload for app, as a client would.
func (h *harness) seal(app, payload string) string {
	h.t.Helper()
	enc, err := cipherOf(h.t, app).Encrypt([]byte(payload), app)
	if err != nil {
		h.t.Fatal(err)
	}
	return envelopeJSON(testBuin, app, enc)
}

func envelopeJSON(buin int64, app, enc string) string {
	b, _ := json.Marshal(map[string]any{"buin": buin, "appId": app, "encrypt": enc})
	return string(b)
}

type reply struct {
	status int
	body   string
	json   gjson.Result
}

// post sends body to uri; contentType "-" sends none.
func (h *harness) post(uri, body, contentType string) reply {
	h.t.Helper()
	a, err := h.try(fasthttp.MethodPost, uri, body, contentType)
	if err != nil {
		h.t.Fatalf("%s: %v", uri, err)
	}
	return a
}

func (h *harness) try(method, uri, body, contentType string) (reply, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://youdu.test:7080" + uri)
	req.SetBodyString(body)
	switch contentType {
	case "":
		req.Header.SetContentType("application/json")
	case "-":
		req.Header.SetNoDefaultContentType(true)
	default:
		req.Header.SetContentType(contentType)
	}
	if err := h.cli.Do(req, resp); err != nil {
		return reply{}, err
	}
	b := string(resp.Body())
	return reply{status: resp.StatusCode(), body: b, json: gjson.Parse(b)}, nil
}

// want checks an HTTP 200 reply with exactly errcode and errmsg (plus
// encrypt on gettoken success) and errcode code.
func (a reply) want(t *testing.T, code int) {
	t.Helper()
	if a.status != fasthttp.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", a.status, a.body)
	}
	if got := a.json.Get("errcode"); got.Type != gjson.Number || got.Int() != int64(code) {
		t.Fatalf("errcode %s, want %d: %s", got.Raw, code, a.body)
	}
	if a.json.Get("errmsg").Type != gjson.String {
		t.Fatalf("no errmsg: %s", a.body)
	}
	n := 0
	a.json.ForEach(func(k, _ gjson.Result) bool {
		n++
		if k.Str != "errcode" && k.Str != "errmsg" && !(code == 0 && k.Str == "encrypt") {
			t.Fatalf("unexpected key %q: %s", k.Str, a.body)
		}
		return true
	})
	if code != 0 && n != 2 {
		t.Fatalf("error reply %s", a.body)
	}
}

// token gets a fresh access token for app.
func (h *harness) token(app string) string {
	h.t.Helper()
	a := h.post("/cgi/gettoken", h.seal(app, strconv.FormatInt(h.clk.Now().Unix(), 10)), "")
	a.want(h.t, CodeOK)
	msg, trailing, err := cipherOf(h.t, app).Decrypt(a.json.Get("encrypt").Str)
	if err != nil || trailing != app {
		h.t.Fatalf("gettoken reply: %v, appId %q", err, trailing)
	}
	tok := gjson.GetBytes(msg, "accessToken").Str
	if tok == "" {
		h.t.Fatalf("gettoken payload %s", msg)
	}
	return tok
}

// send posts payload to /cgi/msg/send for app with a fresh token.
func (h *harness) send(app, payload string) reply {
	h.t.Helper()
	return h.sendWith(h.token(app), app, payload)
}

func (h *harness) sendWith(tok, app, payload string) reply {
	h.t.Helper()
	return h.post("/cgi/msg/send?accessToken="+tok, h.seal(app, payload), "")
}

func (h *harness) inbox() []emu.Message { return h.e.Core().Inbox.List(emu.Filter{}) }

func textPayload(to, content string) string {
	return fmt.Sprintf(`{"toUser":%q,"msgType":"text","text":{"content":%q}}`, to, content)
}
