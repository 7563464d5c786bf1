package proxy

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
)

// The relay's NetEase clients and the NetEase account it forwards with.
const (
	ptClientKey, ptClientSecret = "client-appkey", "client-secret"
	ptVendorKey, ptVendorSecret = "vendor-appkey", "vendor-secret"
)

// seenCall is one request as a NetEase upstream received it.
type seenCall struct {
	method, uri, contentType, body string
	appKey, nonce, curTime, sum    string
}

// neteaseUpstream records every call and answers with its current answer.
type neteaseUpstream struct {
	url   string
	mu    sync.Mutex
	seen  []seenCall
	calls atomic.Int32

	status int
	ct     string
	body   string
}

func startNetease(t *testing.T) *neteaseUpstream {
	t.Helper()
	u := &neteaseUpstream{status: 200, ct: "application/json;charset=utf-8", body: `{"code":200,"data":{"message_server_id":"42"}}`}
	u.url = serveUpstream(t, &fasthttp.Server{Handler: u.serve, DisablePreParseMultipartForm: true})
	return u
}

func (u *neteaseUpstream) serve(ctx *fasthttp.RequestCtx) {
	u.calls.Add(1)
	h := &ctx.Request.Header
	u.mu.Lock()
	u.seen = append(u.seen, seenCall{
		method: string(ctx.Method()), uri: string(h.RequestURI()), contentType: string(h.ContentType()), body: string(ctx.PostBody()),
		appKey: string(h.Peek("AppKey")), nonce: string(h.Peek("Nonce")), curTime: string(h.Peek("CurTime")), sum: string(h.Peek("CheckSum")),
	})
	status, ct, body := u.status, u.ct, u.body
	u.mu.Unlock()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType(ct)
	ctx.SetBodyString(body)
}

func (u *neteaseUpstream) answer(status int, ct, body string) {
	u.mu.Lock()
	u.status, u.ct, u.body = status, ct, body
	u.mu.Unlock()
}

func (u *neteaseUpstream) last(t *testing.T) seenCall {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream got no call")
	}
	return u.seen[len(u.seen)-1]
}

// passthroughConfig routes NetEase clients to a NetEase provider at url,
// passing their calls through.
func passthroughConfig(url string) *config.Config {
	return &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{"ne": {
			Dialect: config.Netease, BaseURL: url,
			Credentials: config.Credentials{AppKey: ptVendorKey, AppSecret: config.SecretValue(ptVendorSecret)},
		}},
		Routes: []config.Route{{
			Name: "pass", Dialect: config.Netease, Target: "ne", Passthrough: true,
			Auth: config.Auth{Credentials: config.Credentials{AppKey: ptClientKey, AppSecret: config.SecretValue(ptClientSecret)}},
		}},
	}
}

var ptNonce atomic.Int64

// neteaseHeaders signs a client call with secret and a fresh nonce.
func neteaseHeaders(secret string) map[string]string {
	ct := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := "pt" + strconv.FormatInt(ptNonce.Add(1), 10)
	return map[string]string{"AppKey": ptClientKey, "Nonce": nonce, "CurTime": ct, "CheckSum": auth.CheckSum(secret, nonce, ct)}
}

// rawAnswer is a relay answer with its content type.
type rawAnswer struct {
	status int
	ct     string
	body   string
}

// send sends uri (kept byte for byte: no path normalisation) to the relay.
func (r *relay) send(t *testing.T, uri, ct string, headers map[string]string, body string) rawAnswer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://relay" + uri)
	req.Header.SetMethod("POST")
	req.Header.SetContentType(ct)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	if err := r.cli.DoTimeout(req, resp, 20*time.Second); err != nil {
		t.Fatalf("POST %s: %v", uri, err)
	}
	return rawAnswer{resp.StatusCode(), string(resp.Header.ContentType()), string(resp.Body())}
}

// checkSigned fails unless the call carries the provider's credentials
// (a valid CheckSum for the vendor secret), not the client's.
func checkSigned(t *testing.T, c seenCall, client map[string]string) {
	t.Helper()
	if c.appKey != ptVendorKey {
		t.Errorf("upstream AppKey %q, want the provider's %q", c.appKey, ptVendorKey)
	}
	if c.sum != auth.CheckSum(ptVendorSecret, c.nonce, c.curTime) {
		t.Errorf("upstream CheckSum %q is not the provider's for Nonce %q CurTime %q", c.sum, c.nonce, c.curTime)
	}
	if c.sum == client["CheckSum"] || c.nonce == client["Nonce"] {
		t.Errorf("the client's Nonce or CheckSum reached the provider: %+v", c)
	}
}

// TestPassthroughVerbatim: v2 and v1 calls reach the provider byte for
// byte (path with its percent-encoding, query, content type, body) signed
// with the provider's credentials, and the provider's answer, a vendor
// error included, comes back as it was written. No plugin runs.
func TestPassthroughVerbatim(t *testing.T) {
	up := startNetease(t)
	cfg := passthroughConfig(up.url)
	cfg.Plugins.MaxCalls = 1 // every hook call would retire an instance: Recycled counts them
	r := startRelay(t, cfg)
	codec := r.s.Plugin("netease")
	base := codec.Stats()

	v2Body := `{"message":{"message_type":0,"text":"hi \u00e9"},"extension":"{\"k\":1}"}`
	cases := []struct {
		name, uri, ct, body, wantURI string
	}{
		{"v2 encoded conversation", "/im/v2/conversations/alice%7C1%7Cbob/messages?check=x%20y&z=1", "application/json;charset=utf-8", v2Body,
			"/nimserver/im/v2/conversations/alice%7C1%7Cbob/messages?check=x%20y&z=1"},
		{"v2 under nimserver", "/nimserver/im/v2/conversations/alice|1|bob/messages", "application/json", v2Body,
			"/nimserver/im/v2/conversations/alice|1|bob/messages"},
		{"v1 form", "/nimserver/msg/sendMsg.action", "application/x-www-form-urlencoded;charset=utf-8",
			"from=alice&ope=0&to=bob&type=0&body=%7B%22msg%22%3A%22hi%22%7D", "/nimserver/msg/sendMsg.action"},
		{"v1 without nimserver", "/msg/sendBatchMsg.action", "application/x-www-form-urlencoded",
			"fromAccid=alice&toAccids=%5B%22bob%22%5D&type=0&body=%7B%22msg%22%3A%22hi%22%7D", "/nimserver/msg/sendBatchMsg.action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := neteaseHeaders(ptClientSecret)
			a := r.send(t, tc.uri, tc.ct, h, tc.body)
			c := up.last(t)
			if c.method != "POST" || c.uri != tc.wantURI || c.contentType != tc.ct || c.body != tc.body {
				t.Errorf("upstream got %s %s [%s] %q\nwant POST %s [%s] %q", c.method, c.uri, c.contentType, c.body, tc.wantURI, tc.ct, tc.body)
			}
			checkSigned(t, c, h)
			if a.status != 200 || a.ct != "application/json;charset=utf-8" || a.body != `{"code":200,"data":{"message_server_id":"42"}}` {
				t.Errorf("client got %d [%s] %s", a.status, a.ct, a.body)
			}
		})
	}

	// Vendor errors come back as NetEase wrote them.
	for _, ans := range []rawAnswer{
		{200, "application/json;charset=utf-8", `{"code":414,"msg":"parameter error: to"}`},
		{502, "text/html", "<html>bad gateway</html>"},
	} {
		up.answer(ans.status, ans.ct, ans.body)
		a := r.send(t, "/im/v2/conversations/alice|1|bob/messages", "application/json", neteaseHeaders(ptClientSecret), v2Body)
		if a != ans {
			t.Errorf("client got %+v, want the vendor's answer %+v", a, ans)
		}
	}

	if st := codec.Stats(); st.Recycled != base.Recycled || st.Faults != base.Faults {
		t.Errorf("a plugin ran on the pass-through path: stats %+v, before %+v", st, base)
	}
	want := map[string]float64{"ok": 4, "failed": 2}
	for outcome, n := range want {
		if got := counter(t, r.s, "imrelay_requests_total", map[string]string{"route": "pass", "outcome": outcome}); got != n {
			t.Errorf("requests with outcome %s = %v, want %v", outcome, got, n)
		}
	}

	// The probe itself: a refused call renders its error with the codec,
	// which the stats see.
	a := r.send(t, "/im/v2/conversations/alice|1|bob/messages", "application/json", neteaseHeaders("not-the-secret"), v2Body)
	if gjson.Get(a.body, "code").Int() != 414 {
		t.Errorf("bad checksum answered %+v", a)
	}
	if st := codec.Stats(); st.Recycled == base.Recycled {
		t.Errorf("the codec's encode_response went unnoticed (stats %+v): the no-plugin check above proves nothing", st)
	}
}

// TestPassthroughRefusesBeforeSending: a body over the limit, a bad
// CheckSum, a replayed one and a path the vendor could resolve elsewhere
// are answered by the relay in NetEase's shape, and nothing reaches the
// provider.
func TestPassthroughRefusesBeforeSending(t *testing.T) {
	up := startNetease(t)
	cfg := passthroughConfig(up.url)
	cfg.Limits.MaxBody = 512
	r := startRelay(t, cfg)
	const uri, body = "/im/v2/conversations/alice|1|bob/messages", `{"message":{"message_type":0,"text":"hi"}}`

	big := `{"message":{"message_type":0,"text":"` + strings.Repeat("x", 600) + `"}}`
	if a := r.send(t, uri, "application/json", neteaseHeaders(ptClientSecret), big); a.status != 200 || gjson.Get(a.body, "code").Int() != 405 {
		t.Errorf("body over max_body: %+v, want a NetEase 405", a)
	}
	a := r.send(t, uri, "application/json", neteaseHeaders("not-the-secret"), body)
	if a.status != 200 || gjson.Get(a.body, "code").Int() != 414 {
		t.Errorf("bad checksum: %+v", a)
	}
	h := neteaseHeaders(ptClientSecret)
	if a := r.send(t, uri, "application/json", h, body); gjson.Get(a.body, "code").Int() != 200 {
		t.Fatalf("first use: %+v", a)
	}
	if a := r.send(t, uri, "application/json", h, body); gjson.Get(a.body, "code").Int() != 414 {
		t.Errorf("replayed checksum: %+v", a)
	}
	for _, p := range []string{
		"/im/v2/conversations/../messages",
		"/im/v2/conversations/%2e%2E/messages",
		"/im/v2/conversations/a%2Fb/messages",
		"/im/v2/conversations/a%5cb/messages",
	} {
		a := r.send(t, p, "application/json", neteaseHeaders(ptClientSecret), body)
		if a.status != 200 || gjson.Get(a.body, "code").Int() != 414 {
			t.Errorf("%s: %+v, want a NetEase 414", p, a)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Errorf("the provider got %d calls, want only the one verified call", n)
	}
}

// TestPassthroughPrefixOption: with `prefix: ""` both spellings go to the
// base URL without /nimserver, as the codec's paths would.
func TestPassthroughPrefixOption(t *testing.T) {
	up := startNetease(t)
	cfg := passthroughConfig(up.url)
	cfg.Routes[0].Options = map[string]map[string]any{"target": {"prefix": ""}}
	r := startRelay(t, cfg)
	for uri, want := range map[string]string{
		"/nimserver/msg/sendMsg.action":           "/msg/sendMsg.action",
		"/im/v2/conversations/a|1|b/messages?q=1": "/im/v2/conversations/a|1|b/messages?q=1",
	} {
		r.send(t, uri, "application/x-www-form-urlencoded", neteaseHeaders(ptClientSecret), "from=a&ope=0&to=b&type=0&body=%7B%7D")
		if got := up.last(t).uri; got != want {
			t.Errorf("%s reached the provider as %s, want %s", uri, got, want)
		}
	}
}

// TestPassthroughDeadUpstream: a provider that cannot be reached, or that
// takes the request and hangs up without answering, gives the client a
// NetEase error, never a success.
func TestPassthroughDeadUpstream(t *testing.T) {
	const uri, body = "/im/v2/conversations/alice|1|bob/messages", `{"message":{"message_type":0,"text":"hi"}}`
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		_ = ln.Close()
		r := startRelay(t, passthroughConfig(url))
		a := r.send(t, uri, "application/json", neteaseHeaders(ptClientSecret), body)
		if code := gjson.Get(a.body, "code").Int(); code != 503 || !gjson.Get(a.body, "msg").Exists() {
			t.Errorf("dead upstream answered %+v, want a NetEase 503", a)
		}
		if got := counter(t, r.s, "imrelay_requests_total", map[string]string{"route": "pass", "outcome": "not_sent"}); got != 1 {
			t.Errorf("not_sent requests = %v", got)
		}
	})
	t.Run("hangs up after the request", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		got := make(chan []byte, 1)
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64<<10)
			var req []byte
			for !bytes.Contains(req, []byte(body)) { // the whole request has arrived
				n, err := conn.Read(buf)
				req = append(req, buf[:n]...)
				if err != nil {
					break
				}
			}
			_ = conn.Close()
			got <- req
		}()
		r := startRelay(t, passthroughConfig("http://"+ln.Addr().String()))
		a := r.send(t, uri, "application/json", neteaseHeaders(ptClientSecret), body)
		if req := <-got; !bytes.Contains(req, []byte(body)) {
			t.Fatalf("the upstream did not get the request: %q", req)
		}
		if code := gjson.Get(a.body, "code").Int(); code != 408 {
			t.Errorf("an unanswered call answered %+v, want a NetEase 408 (delivery unknown)", a)
		}
	})
}

func TestForwardablePath(t *testing.T) {
	for p, want := range map[string]bool{
		"/im/v2/conversations/a%7C1%7Cb/messages": true,
		"/im/v2/conversations/a.b/messages":       true,
		"/im/v2/conversations/.../messages":       true,
		"/nimserver/msg/sendMsg.action":           true,
		"/im/v2/conversations/./messages":         false,
		"/im/v2/conversations/../messages":        false,
		"/im/v2/conversations/.%2E/messages":      false,
		"/im/v2/conversations/%2e/messages":       false,
		"/a/%2f/b":                                false,
		"/a/%5C/b":                                false,
		"/a\\b":                                   false,
		"/a/..":                                   false,
	} {
		if got := forwardablePath([]byte(p)); got != want {
			t.Errorf("forwardablePath(%q) = %v", p, got)
		}
	}
	for _, c := range []struct{ prefix, path, want string }{
		{"/nimserver", "/nimserver/msg/sendMsg.action", "/nimserver/msg/sendMsg.action"},
		{"/nimserver", "/im/v2/conversations/messages", "/nimserver/im/v2/conversations/messages"},
		{"", "/nimserver/im/v2/conversations/messages", "/im/v2/conversations/messages"},
		{"", "/nimserver", "/"},
		{"/nimserver", "/nimserverx/a", "/nimserver/nimserverx/a"},
	} {
		if got := string(appendForwardPath(nil, []byte(c.prefix), []byte(c.path))); got != c.want {
			t.Errorf("appendForwardPath(%q, %q) = %q, want %q", c.prefix, c.path, got, c.want)
		}
	}
}

func TestPassthroughOutcome(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"code":200,"data":{"message_server_id":"1"}}`, "ok"},
		{200, `{"code":"200"}`, "failed"},
		{200, `{"code":414,"msg":"x"}`, "failed"},
		{500, `{"code":200}`, "failed"},
		{200, `not json`, "failed"},
		{200, `{"code":200,"data":{"success_list":[{"receiver_id":"a"}],"failed_list":[{"receiver_id":"b"}]}}`, "partial"},
		{200, `{"code":200,"data":{"success_list":[],"failed_list":[{"receiver_id":"b"}]}}`, "failed"},
		{200, `{"code":200,"data":{"success_list":[{"receiver_id":"a"}],"failed_list":[]}}`, "ok"},
		{200, `{"code":200,"unregister":["b"]}`, "partial"},
		{200, `{"code":200,"unregister":"[\"b\"]"}`, "partial"},
		{200, `{"code":200,"unregister":"[]"}`, "ok"},
	} {
		if got := passthroughOutcome(c.status, []byte(c.body)).String(); got != c.want {
			t.Errorf("%d %s: %s, want %s", c.status, c.body, got, c.want)
		}
	}
}
