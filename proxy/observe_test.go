package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// syncBuffer is a log sink safe for the relay's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(s.b.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// newRelay builds a Server without serving it; requests go through
// Handler in memory.
func newRelay(t *testing.T, cfg *config.Config, logger *slog.Logger) (*Server, error) {
	t.Helper()
	cfg.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Plugin: pluginFile, Logger: logger})
	if err == nil {
		t.Cleanup(func() { _ = s.Close(context.Background()) })
	}
	return s, err
}

func serveOne(s *Server, method, uri string, header map[string]string, body string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.Header.SetContentType("application/json")
	for k, v := range header {
		ctx.Request.Header.Set(k, v)
	}
	ctx.Request.SetBodyString(body)
	s.Handler()(ctx)
	return ctx
}

// counter returns the value of a counter series with the given labels.
func counter(t *testing.T, s *Server, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := s.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.GetCounter() != nil:
					return m.GetCounter().GetValue()
				case m.GetHistogram() != nil:
					return float64(m.GetHistogram().GetSampleCount())
				case m.GetGauge() != nil:
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// TestRequestLogAndMetrics: one log line per request with a sanitised
// client id and no secret, and the route's series counted.
func TestRequestLogAndMetrics(t *testing.T) {
	up := startEcho(t)
	up.fail["bob"] = 500
	var logs syncBuffer
	s, err := newRelay(t, echoConfig(up.url), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	forged := "abc\n{\"level\":\"ERROR\",\"msg\":\"forged\"} x=1"
	ctx := serveOne(s, "POST", echoAuth, map[string]string{"X-Request-Id": forged}, `{"to":["alice","bob"],"text":"hi"}`)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	const wantID = "abclevel:ERRORmsg:forgedx1"
	if got := string(ctx.Response.Header.Peek("X-Request-Id")); got != wantID {
		t.Errorf("X-Request-Id answered %q, want %q", got, wantID)
	}
	serveOne(s, "POST", "/echo?client=c1&token=wrong", nil, `{"to":"alice","text":"hi"}`)

	var reqs []map[string]any
	for _, l := range logs.lines() {
		if l["msg"] == "request" {
			reqs = append(reqs, l)
		}
	}
	if len(reqs) != 2 {
		t.Fatalf("%d request lines, want 2: %v", len(reqs), reqs)
	}
	if reqs[0]["id"] != wantID || reqs[0]["route"] != "echo" || reqs[0]["outcome"] != "partial" || reqs[0]["dialects"] != "getsender->getsender" {
		t.Errorf("first line %v", reqs[0])
	}
	if id, _ := reqs[1]["id"].(string); len(id) < 10 || reqs[1]["outcome"] != "unauthorized" {
		t.Errorf("second line %v: want a generated id and outcome unauthorized", reqs[1])
	}
	logs.mu.Lock()
	all := logs.b.String()
	logs.mu.Unlock()
	if strings.Contains(all, "t1") || strings.Contains(all, "up-token") || strings.Contains(all, "forged\"") {
		t.Errorf("the log shows a secret or the forged line:\n%s", all)
	}

	if v := counter(t, s, "imrelay_requests_total", map[string]string{"route": "echo", "outcome": "partial"}); v != 1 {
		t.Errorf("requests partial = %v, want 1", v)
	}
	if v := counter(t, s, "imrelay_requests_total", map[string]string{"route": "echo", "outcome": "unauthorized"}); v != 1 {
		t.Errorf("requests unauthorized = %v, want 1", v)
	}
	if v := counter(t, s, "imrelay_fanout_requests", map[string]string{"route": "echo"}); v != 2 {
		t.Errorf("fan-out observations = %v, want 2", v)
	}
	if v := counter(t, s, "imrelay_provider_requests_total", map[string]string{"provider": "up", "result": "5xx"}); v != 1 {
		t.Errorf("provider 5xx = %v, want 1", v)
	}
	if v := counter(t, s, "imrelay_provider_requests_total", map[string]string{"provider": "up", "result": "2xx"}); v != 1 {
		t.Errorf("provider 2xx = %v, want 1", v)
	}
	if v := counter(t, s, "imrelay_plugin_instantiations_total", map[string]string{"plugin": "echo"}); v < 1 {
		t.Errorf("instantiations = %v, want at least 1", v)
	}
	if v := counter(t, s, "imrelay_plugin_pool_size", map[string]string{"plugin": "echo"}); v < 1 {
		t.Errorf("pool size = %v", v)
	}
}

// TestHealthOnMainListener: /healthz and /readyz answer on the relay's
// own listener when no route claims them.
func TestHealthOnMainListener(t *testing.T) {
	up := startEcho(t)
	s, err := newRelay(t, echoConfig(up.url), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		ctx := serveOne(s, "GET", path, nil, "")
		if ctx.Response.StatusCode() != 200 {
			t.Errorf("GET %s: %d %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	if ctx := serveOne(s, "POST", "/healthz", nil, ""); ctx.Response.StatusCode() != 404 {
		t.Errorf("POST /healthz: %d, want 404", ctx.Response.StatusCode())
	}
	s.shutting.Store(true)
	if ctx := serveOne(s, "GET", "/readyz", nil, ""); ctx.Response.StatusCode() != 503 {
		t.Errorf("GET /readyz while shutting down: %d, want 503", ctx.Response.StatusCode())
	}
}

// TestExternalPluginPinned: a plugin file overrides the built-in of the
// same name when its sha256 matches, and is refused otherwise with an
// error naming the file and both hashes.
func TestExternalPluginPinned(t *testing.T) {
	up := startEcho(t)
	path := filepath.Join("..", "plugins", "echo", "echo.wasm")
	b, err := pluginFile("echo")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])
	bad := strings.Repeat("0", 64)

	cfg := echoConfig(up.url)
	cfg.Plugins.Files = map[string]config.PluginFile{"echo": {Path: path, SHA256: bad}}
	_, err = newRelay(t, cfg, quietLogger())
	if !errors.Is(err, ErrPluginHash) {
		t.Fatalf("a mismatched file loaded: %v", err)
	}
	for _, want := range []string{path, good, bad} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}

	cfg = echoConfig(up.url)
	cfg.Plugins.Files = map[string]config.PluginFile{"echo": {Path: path, SHA256: strings.ToUpper(good)}}
	s, err := newRelay(t, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ps := s.Plugins()
	if len(ps) != 1 || ps[0].Source != path || ps[0].SHA256 != good {
		t.Fatalf("plugins in effect: %+v", ps)
	}
	if ctx := serveOne(s, "POST", echoAuth, nil, `{"to":"alice","text":"hi"}`); ctx.Response.StatusCode() != 200 {
		t.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// TestReloadSharesUnchanged: a reload that changes nothing about a
// plugin keeps its pool; one that changes the pool settings loads a new
// pool and closes the old one.
func TestReloadSharesUnchanged(t *testing.T) {
	up := startEcho(t)
	s, err := newRelay(t, echoConfig(up.url), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	first := s.Plugin("echo")
	same := echoConfig(up.url)
	same.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	if err := same.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background(), same); err != nil {
		t.Fatal(err)
	}
	if s.Plugin("echo") != first {
		t.Error("an unchanged plugin was loaded again")
	}
	resized := echoConfig(up.url)
	resized.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	resized.Plugins.PoolSize = 3
	if err := resized.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background(), resized); err != nil {
		t.Fatal(err)
	}
	if s.Plugin("echo") == first {
		t.Fatal("a plugin with new pool settings kept its old pool")
	}
	if _, err := first.Acquire(context.Background()); !errors.Is(err, wasmhost.ErrClosed) {
		t.Errorf("the old pool still hands out instances: %v", err)
	}
	if ctx := serveOne(s, "POST", echoAuth, nil, `{"to":"alice","text":"hi"}`); ctx.Response.StatusCode() != 200 {
		t.Fatalf("after reload: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if v := counter(t, s, "imrelay_reloads_total", map[string]string{"result": "ok"}); v != 2 {
		t.Errorf("reloads ok = %v, want 2", v)
	}
}
