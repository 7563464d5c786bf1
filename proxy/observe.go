package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// The request log and the request metrics, written once per request when
// its answer is ready (exchange.observe). Both stay off the allocation
// budget: metric series are resolved when the route is built, the log
// line has five attributes (slog keeps five in the record without
// allocating), and the request id lives in an arena.

// headerRequestID is the header a client may send its own request id in;
// the relay echoes the id it used in the answer's header of the same name.
const headerRequestID = "X-Request-Id"

// maxRequestID is the longest client-sent request id kept.
const maxRequestID = 64

// requestIDs makes request ids: a random per-process prefix and a counter,
// so ids from replicas do not collide and need no coordination.
type requestIDs struct {
	prefix [8]byte // hex
	seq    atomic.Uint64
}

func (g *requestIDs) init() {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	const hexdigits = "0123456789abcdef"
	for i, c := range b {
		g.prefix[2*i] = hexdigits[c>>4]
		g.prefix[2*i+1] = hexdigits[c&15]
	}
}

// appendNext appends a new id: 8 hex digits, '-', the sequence in hex.
func (g *requestIDs) appendNext(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, g.seq.Add(1), 16)
}

// appendSanitized appends the characters of a client-sent id that cannot
// break a log line or a header: letters, digits and ._:- only, at most
// maxRequestID of them. Anything else is dropped, so a client cannot forge
// a log line, a key or a quote with its id.
func appendSanitized(dst, id []byte) []byte {
	n := 0
	for _, c := range id {
		if n == maxRequestID {
			break
		}
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
			dst = append(dst, c)
			n++
		}
	}
	return dst
}

// idArena hands out strings carved from a byte block that is only ever
// appended to: a string made from it never changes afterwards, so a log
// handler may keep it. A full block is left to the garbage collector with
// the strings that point into it and a new one is started: one allocation
// per about a hundred requests instead of one per request.
type idArena struct{ buf []byte }

const idArenaBlock = 4 << 10

func (a *idArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, max(idArenaBlock, len(b)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// requestID picks the request's id: the client's, sanitised, or a new one.
func (x *exchange) requestID() []byte {
	x.id = x.id[:0]
	if h := x.ctx.Request.Header.Peek(headerRequestID); len(h) > 0 {
		x.id = appendSanitized(x.id, h)
	}
	if len(x.id) == 0 {
		x.id = x.s.ids.appendNext(x.id)
	}
	return x.id
}

// observe counts the request and writes its log line. The answer is
// already in ctx.
func (x *exchange) observe() {
	o := x.outcome
	if !x.failed && !x.forwarded {
		o = resultsOutcome(x.results)
	}
	d := time.Since(x.began)
	x.r.metrics.Done(o, d, x.sent)
	id := x.requestID()
	x.ctx.Response.Header.SetBytesV(headerRequestID, id)
	l := x.s.logger
	if !l.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	l.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("id", x.arena.string(id)),
		slog.String("route", x.r.name),
		slog.String("dialects", x.r.dialects),
		slog.String("outcome", o.String()),
		slog.Duration("duration", d),
	)
}

// resultsOutcome reads the outcome of a request from its results
// document: a request-level error, or how many results were accepted.
func resultsOutcome(results []byte) metrics.Outcome {
	doc := unsafeString(results)
	if e := gjson.Get(doc, "error.code"); e.Exists() {
		return metrics.CodeOutcome(e.Str)
	}
	ok, failed := 0, 0
	gjson.Get(doc, "results").ForEach(func(_, r gjson.Result) bool {
		if r.Get("ok").Bool() {
			ok++
		} else {
			failed++
		}
		return true
	})
	switch {
	case failed == 0:
		return metrics.OutcomeOK
	case ok == 0:
		return metrics.OutcomeFailed
	}
	return metrics.OutcomePartial
}

// faultKind names the kind of a plugin fault for imrelay_plugin_faults_total.
func faultKind(err error) string {
	switch {
	case errors.Is(err, wasmhost.ErrTrap):
		return metrics.FaultTrap
	case errors.Is(err, wasmhost.ErrDeadline):
		return metrics.FaultDeadline
	case errors.Is(err, wasmhost.ErrMemory):
		return metrics.FaultMemory
	case errors.Is(err, wasmhost.ErrBadOutput), errors.Is(err, errBadRequests):
		return metrics.FaultBadOutput
	}
	return metrics.FaultOther
}
