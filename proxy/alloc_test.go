package proxy

import (
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// hostPathAllocBudget is what one request may allocate on the relay's host
// path once its pools are warm: nothing.
const hostPathAllocBudget = 0

// quietUpstream answers every call with a fixed echo-dialect success and
// allocates nothing itself, so that only the relay is measured (the
// allocation counters are process-wide).
func quietUpstream(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":"m1"}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// hostPath builds a relay on the echo codec (a pass-through translation)
// and a request context to replay through its handler.
func hostPath(tb testing.TB) (*Server, *fasthttp.RequestCtx) {
	tb.Helper()
	return hostPathWith(tb, nil)
}

// hostPathWith is hostPath with the configuration changed by tweak first.
func hostPathWith(tb testing.TB, tweak func(testing.TB, *config.Config)) (*Server, *fasthttp.RequestCtx) {
	tb.Helper()
	cfg := echoConfig(quietUpstream(tb))
	if tweak != nil {
		tweak(tb, cfg)
	}
	cfg.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{Plugin: pluginFile, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(echoAuth)
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(`{"to":"alice","text":"hi"}`)
	return s, ctx
}

// TestHostPathAllocs guards the relay's hot path: routing, client auth,
// the four hook calls, one provider request on a kept-alive connection and
// the answer allocate nothing once warm.
func TestHostPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s, ctx := hostPath(t)
	run := func() {
		ctx.Response.Reset()
		s.handle(ctx)
	}
	for i := 0; i < 50; i++ { // warm the pools and the connection
		run()
	}
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if n := testing.AllocsPerRun(200, run); n > hostPathAllocBudget {
		t.Errorf("host path allocates %.1f times per request, budget %d", n, hostPathAllocBudget)
	}
}

// BenchmarkHostPath is one request through the handler (no client
// connection): its twin is TestHostPathAllocs.
func BenchmarkHostPath(b *testing.B) {
	s, ctx := hostPath(b)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		s.handle(ctx)
	}
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
