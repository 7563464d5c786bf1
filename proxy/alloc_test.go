package proxy

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// hostPathAllocBudget is what one request may allocate on the relay's host
// path once its pools are warm: nothing.
const hostPathAllocBudget = 0

// quietNetease is what quietUpstream answers a NetEase call. Keep it
// within 64 bytes, like the echo answers: fasthttp's body buffer pool
// calibrates to the sizes it sees and drops larger buffers on Put, so a
// case whose bodies fall in a bigger size class than the cases run before
// it would count fasthttp's pool misses, not the relay's allocations.
const quietNetease = `{"code":200,"data":{"message_server_id":"m1"}}`

// quietUpstream answers every call with a fixed echo-dialect success and
// allocates nothing itself, so that only the relay is measured (the
// allocation counters are process-wide).
func quietUpstream(tb testing.TB) string {
	tb.Helper()
	return serveUpstream(tb, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if bytes.HasPrefix(ctx.Path(), nimserver) { // a pass-through NetEase call
			ctx.SetBodyString(quietNetease)
			return
		}
		ctx.SetBodyString(`{"id":"m1"}`)
	}})
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

// hostPathCase is a route the host path is measured on.
type hostPathCase struct {
	name  string
	tweak func(testing.TB, *config.Config)
	// call, when set, replaces the echo request with the case's own and
	// returns what readies the next replay (nil when a replay needs nothing).
	call func(testing.TB, *fasthttp.RequestCtx) func()
	// ok reports whether an answer is the route's success.
	ok func(*fasthttp.Response) bool
}

// hostPathCases are the routes the host path is measured on: a plain
// route; a cohort route, whose batch is partitioned and its results
// merged on every request; and a pass-through NetEase route, which runs
// no plugin at all (the relay's physical limit).
var hostPathCases = []hostPathCase{
	{"plain", nil, nil, echoOK},
	{"cohort", withCohort, nil, echoOK},
	{"passthrough", withPassthrough, neteaseCall, neteaseOK},
}

func echoOK(r *fasthttp.Response) bool {
	return r.StatusCode() == 200 && gjson.GetBytes(r.Body(), "ok").Bool()
}

// neteaseOK: the upstream's answer, byte for byte (the codec would have
// written its own).
func neteaseOK(r *fasthttp.Response) bool {
	return r.StatusCode() == 200 && string(r.Body()) == quietNetease
}

// hostPathFor builds the relay and the request of one case; next readies
// each replay (it may be a no-op).
func hostPathFor(tb testing.TB, tc hostPathCase) (s *Server, ctx *fasthttp.RequestCtx, next func()) {
	tb.Helper()
	s, ctx = hostPathWith(tb, tc.tweak)
	next = func() {}
	if tc.call != nil {
		if n := tc.call(tb, ctx); n != nil {
			next = n
		}
	}
	return s, ctx, next
}

// withPassthrough replaces the echo route with a NetEase pass-through
// route to a NetEase provider on the same quiet upstream.
func withPassthrough(tb testing.TB, cfg *config.Config) {
	pt := passthroughConfig(cfg.Providers["up"].BaseURL)
	cfg.Providers, cfg.Routes = pt.Providers, pt.Routes
}

// neteaseCall makes ctx a signed NetEase v2 call. Every replay needs a
// new Nonce and CheckSum (the relay refuses a CheckSum it has seen): the
// returned function writes them in place, without allocating, and costs
// the benchmark one SHA-1 the plain case does not pay.
func neteaseCall(tb testing.TB, ctx *fasthttp.RequestCtx) func() {
	ctx.Request.Reset()
	ctx.Request.SetRequestURI("/im/v2/conversations/alice%7C1%7Cbob/messages")
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType("application/json;charset=utf-8")
	ctx.Request.SetBodyString(`{"message":{"message_type":0,"text":"hi"}}`)
	curTime := strconv.FormatInt(time.Now().Unix(), 10)
	ctx.Request.Header.Set("AppKey", ptClientKey)
	ctx.Request.Header.Set("CurTime", curTime)
	prefix := "host-path-" + strconv.FormatInt(ptNonce.Add(1), 10) + "-"
	var nonce, sum []byte
	var n int64
	next := func() {
		n++
		nonce = strconv.AppendInt(append(nonce[:0], prefix...), n, 10)
		sum = auth.AppendCheckSum(sum[:0], ptClientSecret, unsafeString(nonce), curTime)
		ctx.Request.Header.SetBytesV("Nonce", nonce)
		ctx.Request.Header.SetBytesV("CheckSum", sum)
	}
	next()
	return next
}

// TestHostPathAllocs guards the relay's hot path: routing, client auth,
// the four hook calls, one provider request on a kept-alive connection and
// the answer allocate nothing once warm, on a plain route and on a cohort
// route; and on a pass-through route, its NetEase CheckSum check, replay
// record, re-signing and verbatim answer.
func TestHostPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, tc := range hostPathCases {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx, next := hostPathFor(t, tc)
			run := func() {
				next()
				ctx.Response.Reset()
				s.handle(ctx)
			}
			for i := 0; i < 50; i++ { // warm the pools and the connection
				run()
			}
			if !tc.ok(&ctx.Response) {
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
// cohort to plain is the cost of dividing recipients between legs, that
// of passthrough to plain what skipping the four hooks saves.
func BenchmarkHostPath(b *testing.B) {
	for _, tc := range hostPathCases {
		b.Run(tc.name, func(b *testing.B) {
			s, ctx, next := hostPathFor(b, tc)
			b.ReportAllocs()
			for b.Loop() {
				next()
				ctx.Response.Reset()
				s.handle(ctx)
			}
			if !tc.ok(&ctx.Response) {
				b.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
}
