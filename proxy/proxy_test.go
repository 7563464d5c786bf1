package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// pluginFile reads a built plugin from the repository, as the binary's
// embedded plugins would give it.
func pluginFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "plugins", name, name+".wasm"))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// relay runs a Server in memory and returns a client for it.
type relay struct {
	s   *Server
	ln  *fasthttputil.InmemoryListener
	cli *fasthttp.Client
}

func startRelay(t *testing.T, cfg *config.Config) *relay {
	t.Helper()
	if cfg.Plugins.CacheDir == "" {
		cfg.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Plugin: pluginFile, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
		_ = s.Close(ctx)
	})
	cli := &fasthttp.Client{
		Dial:                      func(string) (net.Conn, error) { return ln.Dial() },
		MaxIdemponentCallAttempts: 1,
		ReadTimeout:               20 * time.Second,
		DisablePathNormalizing:    true, // tests send paths byte for byte
	}
	return &relay{s: s, ln: ln, cli: cli}
}

// post sends a request to the relay and returns the status and body.
func (r *relay) post(t *testing.T, uri string, headers map[string]string, body string) (int, string) {
	t.Helper()
	a := r.send(t, uri, "application/json", headers, body)
	return a.status, a.body
}

// echoUpstream is a provider that speaks the echo plugin's toy dialect:
// it answers {"id":...} for every recipient except those in fail.
type echoUpstream struct {
	url   string
	mu    sync.Mutex
	got   []string // "to:text" per accepted request
	calls atomic.Int32
	fail  map[string]int // recipient → HTTP status
	hold  chan struct{}  // when not nil, each call waits for a value
	seen  chan struct{}  // when not nil, each call signals its arrival
}

func startEcho(t *testing.T) *echoUpstream {
	t.Helper()
	u := &echoUpstream{fail: map[string]int{}}
	u.url = serveUpstream(t, &fasthttp.Server{Handler: u.serve})
	return u
}

// serveUpstream serves srv on a fresh loopback port until the test ends
// and returns its URL.
func serveUpstream(tb testing.TB, srv *fasthttp.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func (u *echoUpstream) serve(ctx *fasthttp.RequestCtx) {
	n := u.calls.Add(1)
	if u.seen != nil {
		u.seen <- struct{}{}
	}
	if u.hold != nil {
		<-u.hold
	}
	to := gjson.GetBytes(ctx.PostBody(), "to").String()
	if st := u.fail[to]; st != 0 {
		ctx.SetStatusCode(st)
		ctx.SetBodyString(`{"error":"no such user"}`)
		return
	}
	u.mu.Lock()
	u.got = append(u.got, to+":"+gjson.GetBytes(ctx.PostBody(), "text").String())
	u.mu.Unlock()
	ctx.SetContentType("application/json")
	fmt.Fprintf(ctx, `{"id":"m%d"}`, n)
}

// echoConfig routes getsender-authenticated clients speaking the echo
// dialect to an echo provider at url.
func echoConfig(url string) *config.Config {
	return &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{"up": {
			Dialect: config.Getsender, Codec: "echo", BaseURL: url,
			Credentials: config.Credentials{Client: "relay", Token: config.SecretValue("up-token")},
		}},
		Routes: []config.Route{{
			Name: "echo", Dialect: config.Getsender, Codec: "echo", Target: "up", Paths: []string{"/echo"},
			Auth: config.Auth{Clients: []config.Client{{ID: "c1", Token: config.SecretValue("t1")}}},
		}},
	}
}

const echoAuth = "/echo?client=c1&token=t1"

func TestEchoFanOut(t *testing.T) {
	up := startEcho(t)
	r := startRelay(t, echoConfig(up.url))
	status, body := r.post(t, echoAuth, nil, `{"to":["alice","bob","carol"],"text":"hi"}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var ans struct {
		OK      bool `json:"ok"`
		Results []struct {
			To string `json:"to"`
			OK bool   `json:"ok"`
			ID string `json:"id"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if !ans.OK || len(ans.Results) != 3 {
		t.Fatalf("answer %s", body)
	}
	for i, want := range []string{"alice", "bob", "carol"} {
		if ans.Results[i].To != want || !ans.Results[i].OK || ans.Results[i].ID == "" {
			t.Errorf("result %d = %+v", i, ans.Results[i])
		}
	}
	if len(up.got) != 3 {
		t.Errorf("the provider got %v", up.got)
	}
}

func TestEchoPartialFailure(t *testing.T) {
	up := startEcho(t)
	up.fail["bob"] = 500
	r := startRelay(t, echoConfig(up.url))
	_, body := r.post(t, echoAuth, nil, `{"to":["alice","bob"],"text":"hi"}`)
	if gjson.Get(body, "ok").Bool() {
		t.Fatalf("a partly failed send answered ok: %s", body)
	}
	if !gjson.Get(body, "results.0.ok").Bool() || gjson.Get(body, "results.1.ok").Bool() || gjson.Get(body, "results.1.code").String() != "upstream" {
		t.Fatalf("answer %s", body)
	}
}

func TestEchoWrongCredentials(t *testing.T) {
	up := startEcho(t)
	r := startRelay(t, echoConfig(up.url))
	for _, uri := range []string{"/echo?client=c1&token=nope", "/echo?client=zz&token=t1", "/echo"} {
		status, body := r.post(t, uri, nil, `{"to":"alice","text":"hi"}`)
		if status != 401 || gjson.Get(body, "code").String() != "unauthorized" {
			t.Errorf("%s: %d %s", uri, status, body)
		}
	}
	if n := up.calls.Load(); n != 0 {
		t.Errorf("the provider was called %d times by unauthenticated clients", n)
	}
}

func TestEchoLimits(t *testing.T) {
	up := startEcho(t)
	cfg := echoConfig(up.url)
	cfg.Limits.MaxBody = 256
	cfg.Limits.MaxHeader = 1024
	r := startRelay(t, cfg)
	status, body := r.post(t, echoAuth, nil, `{"to":"alice","text":"`+strings.Repeat("x", 300)+`"}`)
	if status != 413 || gjson.Get(body, "code").String() != "too_large" {
		t.Errorf("big body: %d %s", status, body)
	}
	status, body = r.post(t, echoAuth, map[string]string{"X-Pad": strings.Repeat("p", 1500)}, `{"to":"alice","text":"x"}`)
	if status != 413 || gjson.Get(body, "code").String() != "too_large" {
		t.Errorf("big header: %d %s", status, body)
	}
	if n := up.calls.Load(); n != 0 {
		t.Errorf("the provider was called %d times", n)
	}
}

func TestEchoGuestErrorAndUnknownRoute(t *testing.T) {
	up := startEcho(t)
	r := startRelay(t, echoConfig(up.url))
	status, body := r.post(t, echoAuth, nil, `{"to":"alice"}`)
	if status != 400 || gjson.Get(body, "field").String() != "text" {
		t.Errorf("invalid body: %d %s", status, body)
	}
	status, body = r.post(t, "/nowhere", nil, `{}`)
	if status != 404 || gjson.Get(body, "code").String() != "not_found" {
		t.Errorf("unknown route: %d %s", status, body)
	}
}

// TestBrokenBatchIsAPluginFault: a middleware that returns a batch that is
// not valid JSON is refused by the relay before any codec reads it (codecs
// trust FieldBatch): the client gets an internal error in its dialect,
// nothing is sent, and the fault is counted against that plugin.
func TestBrokenBatchIsAPluginFault(t *testing.T) {
	up := startEcho(t)
	cfg := echoConfig(up.url)
	path, err := filepath.Abs(filepath.Join("wasmhost", "testdata", "echo", "echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	cfg.Plugins.Files = map[string]config.PluginFile{"cutter": {Path: path, SHA256: hex.EncodeToString(sum[:])}}
	cfg.Routes[0].Middleware = []string{"cutter"}
	for _, mode := range []string{"keep", "cut"} {
		cfg.Plugins.Config = map[string]any{"cutter": mode}
		r := startRelay(t, cfg)
		status, body := r.post(t, echoAuth, nil, `{"to":"alice","text":"hi"}`)
		faults := counter(t, r.s, "imrelay_plugin_faults_total", map[string]string{"plugin": "cutter", "kind": "bad_output"})
		if mode == "keep" {
			if status != 200 || !gjson.Get(body, "ok").Bool() || faults != 0 {
				t.Fatalf("an intact batch: %d %s, %v faults", status, body, faults)
			}
			continue
		}
		if gjson.Get(body, "ok").Bool() || gjson.Get(body, "code").String() != "internal" {
			t.Errorf("a broken batch answered %d %s", status, body)
		}
		if faults != 1 {
			t.Errorf("bad_output faults of cutter = %v, want 1", faults)
		}
	}
	if len(up.got) != 1 {
		t.Errorf("the provider got %v, want only the intact batch's message", up.got)
	}
}

func TestEchoUnreachableProviderNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	_ = ln.Close()
	r := startRelay(t, echoConfig(url))
	_, body := r.post(t, echoAuth, nil, `{"to":"alice","text":"hi"}`)
	if gjson.Get(body, "ok").Bool() || gjson.Get(body, "results.0.code").String() != "not_sent" {
		t.Fatalf("answer %s", body)
	}
}

func TestBusyAnswersInDialect(t *testing.T) {
	up := startEcho(t)
	up.hold = make(chan struct{})
	up.seen = make(chan struct{}, 1)
	cfg := echoConfig(up.url)
	cfg.Limits.MaxConcurrent = 1
	r := startRelay(t, cfg)
	first := make(chan string, 1)
	go func() {
		_, body := r.post(t, echoAuth, nil, `{"to":"alice","text":"hi"}`)
		first <- body
	}()
	<-up.seen // the first request is now inside the provider
	status, body := r.post(t, echoAuth, nil, `{"to":"bob","text":"hi"}`)
	close(up.hold)
	if status != 200 || gjson.Get(body, "code").Int() != 503 || !gjson.Get(body, "foot").Exists() {
		t.Errorf("busy answer (getsender shape expected): %d %s", status, body)
	}
	if b := <-first; !gjson.Get(b, "ok").Bool() {
		t.Errorf("first request: %s", b)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	up := startEcho(t)
	up.hold = make(chan struct{})
	up.seen = make(chan struct{}, 1)
	cfg := echoConfig(up.url)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	s, err := New(context.Background(), cfg, Options{Plugin: pluginFile, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	url := "http://" + addrs[0].String()

	answer := make(chan int, 1)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(url + echoAuth)
		req.Header.SetMethod("POST")
		req.SetBodyString(`{"to":"alice","text":"hi"}`)
		if err := fasthttp.DoTimeout(req, resp, 20*time.Second); err != nil {
			answer <- -1
			return
		}
		answer <- resp.StatusCode()
	}()
	<-up.seen
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// Serve returns once the listeners are closed, while the request is
	// still held by the provider; from then on new connections are refused.
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addrs[0].String()); err == nil {
		_ = c.Close()
		t.Fatal("the listener still accepts after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the request in flight finished", err)
	default:
	}
	close(up.hold)
	if st := <-answer; st != 200 {
		t.Fatalf("the request in flight got %d (-1: cut by the shutdown), want 200", st)
	}
	if len(up.got) != 1 {
		t.Errorf("the provider got %v", up.got)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	_ = s.Close(context.Background())
}

func TestMatchSegments(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/cgi/msg/send", "/cgi/msg/send", true},
		{"/cgi/msg/send", "/cgi/msg/send/", true},
		{"/cgi/msg/send", "/cgi/msg/sendx", false},
		{"/cgi/msg/send", "/cgi/msg", false},
		{"/im/v2/conversations/*/messages", "/im/v2/conversations/a%7C1%7Cb/messages", true},
		{"/im/v2/conversations/*/messages", "/im/v2/conversations//messages", false},
		{"/im/v2/conversations/*/messages", "/im/v2/conversations/messages", false},
		{"/a/**", "/a", true},
		{"/a/**", "/a/b/c", true},
		{"/a/**", "/b/c", false},
		{"/*/*/messages/users", "/acme/chat/messages/users", true},
		{"/*/*/messages/users", "/acme/chat/messages/users/x", false},
	}
	for _, tc := range cases {
		if got := matchSegments(compilePattern(tc.pattern), []byte(tc.path)); got != tc.want {
			t.Errorf("%s ~ %s = %v", tc.pattern, tc.path, got)
		}
	}
}

func TestContextDeadline(t *testing.T) {
	var c reqContext
	c.reset(time.Now().Add(20 * time.Millisecond))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done never closed")
	}
	if c.Err() != context.DeadlineExceeded {
		t.Fatalf("Err = %v", c.Err())
	}
	c.stop()
	c.reset(time.Now().Add(time.Hour))
	if c.Err() != nil {
		t.Fatal("a reused context starts expired")
	}
	select {
	case <-c.Done():
		t.Fatal("a fresh context is done")
	default:
	}
	c.stop()
}

// TestSlowProviderDoesNotHoldPlugins: with one instance per plugin, a
// request waiting for its provider must not keep the next request from
// being translated and sent.
func TestSlowProviderDoesNotHoldPlugins(t *testing.T) {
	up := startEcho(t)
	up.hold = make(chan struct{})
	up.seen = make(chan struct{}, 2)
	cfg := echoConfig(up.url)
	cfg.Plugins.PoolSize = 1
	r := startRelay(t, cfg)
	answers := make(chan string, 2)
	for _, to := range []string{"alice", "bob"} {
		go func() {
			_, body := r.post(t, echoAuth, nil, `{"to":"`+to+`","text":"hi"}`)
			answers <- body
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case <-up.seen:
		case <-time.After(10 * time.Second):
			close(up.hold)
			t.Fatalf("only %d of 2 requests reached the provider: the first one holds the plugin", i)
		}
	}
	close(up.hold)
	for i := 0; i < 2; i++ {
		if b := <-answers; !gjson.Get(b, "ok").Bool() {
			t.Errorf("answer %s", b)
		}
	}
}
