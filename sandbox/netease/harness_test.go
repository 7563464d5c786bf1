package netease

import (
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
)

const (
	testKey    = "nimtestappkey"
	testSecret = "610128b2fabe"
)

var t0 = time.Unix(1700000000, 0)

// harness runs one emulator in memory with a manual clock and a recording
// sleep, and signs requests like the official SDKs.
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
	cfg := Config{AppKey: testKey, AppSecret: testSecret}
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

// call describes one request; zero fields take the defaults of a correct
// signed call.
type call struct {
	method      string
	uri         string // path and query
	body        string
	contentType string // "-" for none
	headers     map[string]string
	unsigned    bool
	curTime     int64 // 0: the clock's time
}

type answer struct {
	status int
	body   string
	json   gjson.Result
}

func (h *harness) do(c call) answer {
	h.t.Helper()
	a, err := h.try(c)
	if err != nil {
		h.t.Fatalf("%s: %v", c.uri, err)
	}
	return a
}

func (h *harness) try(c call) (answer, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if c.method == "" {
		c.method = fasthttp.MethodPost
	}
	req.Header.SetMethod(c.method)
	// Keep the path exactly as given (escapes and '|' included).
	req.URI().DisablePathNormalizing = true
	req.SetRequestURI("http://nim.test" + c.uri)
	req.SetBodyString(c.body)
	switch c.contentType {
	case "":
	case "-":
		req.Header.SetNoDefaultContentType(true)
	default:
		req.Header.SetContentType(c.contentType)
	}
	if !c.unsigned {
		ct := c.curTime
		if ct == 0 {
			ct = h.clk.Now().Unix()
		}
		cts := strconv.FormatInt(ct, 10)
		nonce := "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99"
		req.Header.Set("AppKey", testKey)
		req.Header.Set("Nonce", nonce)
		req.Header.Set("CurTime", cts)
		req.Header.Set("CheckSum", auth.CheckSum(testSecret, nonce, cts))
	}
	for k, v := range c.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if err := h.cli.Do(req, resp); err != nil {
		return answer{}, err
	}
	body := string(resp.Body())
	return answer{status: resp.StatusCode(), body: body, json: gjson.Parse(body)}, nil
}

// v1 posts a form to a v1 action.
func (h *harness) v1(action string, form url.Values) answer {
	h.t.Helper()
	return h.do(call{
		uri:         "/nimserver/msg/" + action,
		body:        form.Encode(),
		contentType: "application/x-www-form-urlencoded;charset=UTF-8",
	})
}

// v2 posts JSON to a v2 path.
func (h *harness) v2(path, body string) answer {
	h.t.Helper()
	return h.do(call{uri: path, body: body, contentType: "application/json;charset=UTF-8"})
}

// wantCode checks an HTTP 200 answer with the given NetEase code and, for
// errors, a description containing desc, in the v1 or v2 shape.
func (a answer) wantCode(t *testing.T, version apiVersion, code int, desc string) {
	t.Helper()
	if a.status != fasthttp.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", a.status, a.body)
	}
	if got := a.json.Get("code").Int(); got != int64(code) {
		t.Fatalf("code %d, want %d: %s", got, code, a.body)
	}
	if code == CodeOK {
		return
	}
	field := "desc"
	keys := []string{"code", "desc"}
	if version == v2 {
		field = "msg"
		keys = []string{"code", "msg", "data"}
		if d := a.json.Get("data"); !d.IsObject() || d.Raw != "{}" {
			t.Fatalf("v2 error data = %s, want {}", d.Raw)
		}
	}
	wantKeys(t, a.json, keys...)
	if got := a.json.Get(field).Str; !strings.Contains(got, desc) {
		t.Fatalf("%s %q, want it to contain %q", field, got, desc)
	}
}

// wantKeys checks that obj has exactly these keys.
func wantKeys(t *testing.T, obj gjson.Result, keys ...string) {
	t.Helper()
	got := map[string]bool{}
	obj.ForEach(func(k, _ gjson.Result) bool {
		got[k.Str] = true
		return true
	})
	for _, k := range keys {
		if !got[k] {
			t.Fatalf("key %q missing in %s", k, obj.Raw)
		}
		delete(got, k)
	}
	for k := range got {
		t.Fatalf("unexpected key %q in %s", k, obj.Raw)
	}
}

func textForm() url.Values {
	return url.Values{
		"from": {"alice"},
		"ope":  {"0"},
		"to":   {"bob"},
		"type": {"0"},
		"body": {`{"msg":"hello"}`},
	}
}

func (h *harness) inbox() []emu.Message { return h.e.Core().Inbox.List(emu.Filter{}) }
