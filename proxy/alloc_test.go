package proxy

import (
	"context"
	"net"
	"testing"

	"github.com/tidwall/gjson"
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

// hostPathCases are the routes the host path is measured on: a plain
// route, and a cohort route, whose batch is partitioned and its results
// merged on every request.
var hostPathCases = []struct {
	name  string
	tweak func(testing.TB, *config.Config)
}{
	{"plain", nil},
	{"cohort", withCohort},
}

// TestHostPathAllocs guards the relay's hot path: routing, client auth,
// the four hook calls, one provider request on a kept-alive connection and
// the answer allocate nothing once warm, on a plain route and on a cohort
// route.
func TestHostPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, tc := range hostPathCases {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx := hostPathWith(t, tc.tweak)
			run := func() {
				ctx.Response.Reset()
				s.handle(ctx)
			}
			for i := 0; i < 50; i++ { // warm the pools and the connection
				run()
			}
			if ctx.Response.StatusCode() != 200 || !gjson.GetBytes(ctx.Response.Body(), "ok").Bool() {
				t.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			if n := testing.AllocsPerRun(200, run); n > hostPathAllocBudget {
				t.Errorf("host path allocates %.1f times per request, budget %d", n, hostPathAllocBudget)
			}
		})
	}
}

// BenchmarkHostPath is one request through the handler (no client
// connection), per case of TestHostPathAllocs, its twin: the ratio of
// cohort to plain is the cost of dividing recipients between legs.
func BenchmarkHostPath(b *testing.B) {
	for _, tc := range hostPathCases {
		b.Run(tc.name, func(b *testing.B) {
			s, ctx := hostPathWith(b, tc.tweak)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				s.handle(ctx)
			}
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
}
