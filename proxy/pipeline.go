package proxy

import (
	"errors"
	"log/slog"
	"strconv"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/migrate"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// exchange is one client request on its way through the relay:
//
//	verify → decode_request → transform… → encode_request → send → decode_response → encode_response
//
// Exchanges are pooled, and every buffer keeps its capacity from one
// request to the next, so the host's part of a request allocates nothing
// once the pool is warm.
type exchange struct {
	s   *Server
	t   *table // the configuration the request is served by
	r   *route
	ctx *fasthttp.RequestCtx
	rc  reqContext

	deadline time.Time
	inst     []*wasmhost.Instance // pinned per plugin of the route, lazily

	clientBody []byte // what the inbound codec saw: the body, or Youdu's plaintext
	body       []byte // buffer for Youdu's plaintext
	frame      []byte // the hook input being built
	batch      []byte // the canonical batch
	spare      []byte // the other batch buffer, for transforms
	reqs       []byte // encode_request's output, copied out of the guest
	results    []byte // decode_response's output, or a host error document
	sealed     []byte // the client's answer after Youdu encryption
	views      [][]byte
	fields     [][]byte
	calls      []call
	hasBatch   bool

	leg     *leg                                        // the leg being delivered
	parts   []migrate.Part                              // a split batch, per leg
	partRes [][]byte                                    // the results of each part
	key     []byte                                      // a split key being hashed
	assignF func(int, gjson.Result, string, string) int // x.assignRecipient, bound once
	job     *job                                        // the background work this request leaves, if any
	sent    int                                         // provider requests made, over every leg

	began   time.Time
	outcome metrics.Outcome // set by fail; otherwise read from the results
	failed  bool
	id      []byte  // the request id
	arena   idArena // backs the id strings handed to the logger

	// forwarded: a pass-through answer was written; outcome is set from
	// the provider's answer (passthrough.go).
	forwarded bool
	ptPath    []byte // the provider path of a pass-through call
}

// call is one provider request of an exchange and its answer.
type call struct {
	req    upstream.Request
	tag    []byte
	ans    upstream.Answer
	failed bool
	errDoc []byte // the transport failure as an abi.GuestError document
}

// maxKeep is the largest buffer an exchange keeps for the next request;
// one huge request does not pin its memory forever.
const maxKeep = 1 << 20

// Host-side failures, as canonical errors.
var (
	errHeaderTooLarge = &abi.GuestError{Code: abi.CodeTooLarge, Message: "request headers are larger than the relay accepts"}
	errBodyTooLarge   = &abi.GuestError{Code: abi.CodeTooLarge, Message: "request body is larger than the relay accepts"}
	errTooMany        = &abi.GuestError{Code: abi.CodeTooLarge, Message: "too many messages in one request", Field: "messages"}
	errBusy           = &abi.GuestError{Code: abi.CodeBusy, Message: "the relay is busy; try again later"}
	errTimeout        = &abi.GuestError{Code: abi.CodeTimeout, Message: "the request timed out; messages may or may not have been delivered"}
)

// start readies x for a request of route r on table t; ctx is nil for
// background work.
func (x *exchange) start(s *Server, t *table, r *route, ctx *fasthttp.RequestCtx) {
	x.s, x.t, x.r, x.ctx = s, t, r, ctx
	x.failed, x.forwarded = false, false
	x.calls = x.calls[:0]
	x.sent = 0
	x.deadline = time.Now().Add(t.requestTimeout)
	x.rc.reset(x.deadline)
	if cap(x.inst) < len(r.plugins) {
		x.inst = make([]*wasmhost.Instance, len(r.plugins))
	}
	x.inst = x.inst[:len(r.plugins)]
	x.hasBatch = false
	x.clientBody = nil
	x.leg = r.legs[0]
}

// release gives the pinned instances back to their pools.
func (x *exchange) release() {
	for i, in := range x.inst {
		if in != nil {
			x.r.plugins[i].Release(in)
			x.inst[i] = nil
		}
	}
}

// finish releases the pinned instances and trims the buffers.
func (x *exchange) finish() {
	x.rc.stop()
	x.release()
	if x.job != nil { // the request failed before its messages were sent
		putJob(x.job)
		x.job = nil
	}
	for i := range x.parts {
		trim(&x.parts[i].Batch)
		trim(&x.partRes[i])
	}
	for i := range x.calls {
		c := &x.calls[i]
		c.req = upstream.Request{}
		c.tag = nil
		trim(&c.ans.Body)
		trim(&c.errDoc)
	}
	for _, b := range []*[]byte{&x.body, &x.frame, &x.batch, &x.spare, &x.reqs, &x.results, &x.sealed} {
		trim(b)
	}
	clear(x.views[:cap(x.views)])
	clear(x.fields[:cap(x.fields)])
	x.s, x.t, x.r, x.ctx, x.clientBody = nil, nil, nil, nil, nil
}

func trim(b *[]byte) {
	if cap(*b) > maxKeep {
		*b = nil
	}
}

// instance returns the instance of plugin i, acquiring it first.
//
// A request holds at most one instance at a time. call releases each one as
// soon as its hook's output is copied out, and only respond keeps the
// inbound codec's until the answer is sealed. Holding one plugin's instance
// while waiting for another's would deadlock two requests that take them in
// opposite orders (the request phase goes inbound → target, the answer
// phase target → inbound) as soon as the pools are smaller than the load.
func (x *exchange) instance(i int) (*wasmhost.Instance, error) {
	if in := x.inst[i]; in != nil {
		return in, nil
	}
	in, err := x.r.plugins[i].Acquire(&x.rc)
	if err != nil {
		return nil, err
	}
	x.inst[i] = in
	return in, nil
}

// call runs one hook of plugin i and copies its output into *dst.
func (x *exchange) call(i int, hook abi.Hook, dst *[]byte) error {
	in, err := x.instance(i)
	if err != nil {
		return err
	}
	out, err := in.Call(&x.rc, hook, x.frame)
	if err == nil {
		*dst = append((*dst)[:0], out...)
	}
	x.r.plugins[i].Release(in) // a faulted instance is discarded here
	x.inst[i] = nil
	return err
}

// run serves the request; it always writes an answer.
func (x *exchange) run() {
	r, ctx := x.r, x.ctx
	if len(ctx.Request.Header.RawHeaders()) > x.t.maxHeader {
		x.fail(errHeaderTooLarge)
		return
	}
	body, ge := r.verifier.Verify(ctx, x.body)
	if ge != nil {
		x.fail(ge)
		return
	}
	if len(body) > 0 && unsafe.SliceData(body) != unsafe.SliceData(ctx.PostBody()) {
		x.body = body // Youdu's plaintext: keep the buffer for the next request
	}
	x.clientBody = body
	if r.passthrough {
		x.passthrough()
		return
	}

	f := abi.AppendFrame(x.frame[:0], 6)
	f = abi.AppendField(f, r.inOpts)
	f = abi.AppendField(f, ctx.Method())
	f = abi.AppendField(f, rawPath(ctx))
	f = abi.AppendField(f, ctx.URI().QueryString())
	f = abi.AppendField(f, ctx.Request.Header.ContentType())
	x.frame = abi.AppendField(f, body)
	if err := x.callBatch(r.inbound, abi.HookDecodeRequest, &x.batch); err != nil {
		x.failPlugin(r.inbound, err)
		return
	}
	x.hasBatch = true
	if n := countMessages(x.batch); n > x.t.maxMessages {
		x.fail(errTooMany)
		return
	}

	for i, mi := range r.middleware {
		f = abi.AppendFrame(x.frame[:0], 2)
		f = abi.AppendField(f, r.mwOpts[i])
		x.frame = abi.AppendField(f, x.batch)
		if err := x.callBatch(mi, abi.HookTransform, &x.spare); err != nil {
			x.failPlugin(mi, err)
			return
		}
		x.batch, x.spare = x.spare, x.batch
	}
	x.copyForJobs() // mirror and shadow see the batch before the media bridge

	if r.assign != nil {
		if ge := x.deliverSplit(); ge != nil {
			x.fail(ge)
			return
		}
	} else if err := x.deliver(r.legs[0]); err != nil {
		x.failDeliver(err)
		return
	}
	x.enqueueJobs()
	x.respond()
}

// callBatch is call for a hook that returns a canonical batch
// (decode_request, transform): output that is not valid JSON is refused as
// a fault of plugin i. Every batch is checked here, once and natively, so
// the hooks that read it need not (abi.FieldBatch).
func (x *exchange) callBatch(i int, hook abi.Hook, dst *[]byte) error {
	if err := x.call(i, hook, dst); err != nil {
		return err
	}
	if batch := *dst; !gjson.Valid(unsafeString(batch)) {
		return &wasmhost.Error{Plugin: x.r.plugins[i].Name(), Op: hook.String(), Kind: wasmhost.ErrBadOutput,
			Detail: "the canonical batch is not valid JSON: " + strconv.Quote(unsafeString(batch[:min(len(batch), 120)]))}
	}
	return nil
}

// deliver translates x.batch for one leg, sends it and leaves the leg's
// canonical results in x.results. An error is the media bridge's or a
// plugin's (failDeliver and legError tell them apart).
func (x *exchange) deliver(l *leg) error {
	x.leg = l
	if ge := x.bridgeMedia(); ge != nil { // proxy/media: attachments the target must host
		return ge
	}
	f := abi.AppendFrame(x.frame[:0], 2)
	f = abi.AppendField(f, l.opts)
	x.frame = abi.AppendField(f, x.batch)
	if err := x.call(l.target, abi.HookEncodeRequest, &x.reqs); err != nil {
		return err
	}
	if err := x.prepare(); err != nil {
		return err
	}
	// No instance is held while the provider requests are in flight (call
	// released each one): the pools bound the translation work, not the
	// waiting for vendors, so a slow vendor does not starve the plugins.
	// Plugins keep no state between hooks.
	x.send()
	x.sent += len(x.calls)

	f = abi.AppendFrame(x.frame[:0], 3)
	f = abi.AppendField(f, l.opts)
	f = abi.AppendField(f, x.batch)
	x.frame = x.appendAnswers(f)
	return x.call(l.target, abi.HookDecodeResponse, &x.results)
}

// failDeliver answers the client for a leg that failed. The mirror and
// the shadow still get the messages, unless the relay itself was out of
// time or capacity: what the old vendor refused is what a migration most
// needs to see.
func (x *exchange) failDeliver(err error) {
	ge := x.legError(err)
	x.setFailure(ge)
	if ge.Code != abi.CodeBusy && ge.Code != abi.CodeTimeout {
		x.enqueueJobs()
	}
	x.respond()
}

// legError turns a failed delivery into the canonical error the client
// (or, for one leg of a split, the leg's recipients) is answered with:
// the media bridge's answer as it is, or a failure of the leg's codec.
func (x *exchange) legError(err error) *abi.GuestError {
	var ge *abi.GuestError
	if errors.As(err, &ge) {
		return ge
	}
	return x.pluginError(x.leg.target, err)
}

// rawPath is the request path as the client sent it, percent-encoded.
func rawPath(ctx *fasthttp.RequestCtx) []byte {
	p := ctx.URI().PathOriginal()
	for i, c := range p {
		if c == '?' {
			return p[:i]
		}
	}
	return p
}

// countMessages counts the batch's messages.
func countMessages(batch []byte) int {
	n := 0
	gjson.Get(unsafeString(batch), "messages").ForEach(func(_, _ gjson.Result) bool {
		n++
		return true
	})
	return n
}

// errBadRequests is encode_request output that is not a frame of requests.
var errBadRequests = errors.New("proxy: encode_request returned a malformed request list")

// prepare splits encode_request's output into calls.
func (x *exchange) prepare() error {
	var err error
	x.views, err = abi.Split(x.reqs, x.views[:0])
	if err != nil {
		return errBadRequests
	}
	n := len(x.views)
	if cap(x.calls) < n {
		calls := make([]call, n)
		copy(calls, x.calls[:cap(x.calls)])
		x.calls = calls
	}
	x.calls = x.calls[:n]
	for i, v := range x.views {
		x.fields, err = abi.Split(v, x.fields[:0])
		if err != nil || len(x.fields) != abi.RequestFields {
			return errBadRequests
		}
		c := &x.calls[i]
		c.req = upstream.Request{
			Method:      x.fields[abi.RequestFieldMethod],
			Path:        x.fields[abi.RequestFieldPath],
			Query:       x.fields[abi.RequestFieldQuery],
			ContentType: x.fields[abi.RequestFieldContentType],
			Body:        x.fields[abi.RequestFieldBody],
		}
		c.tag = x.fields[abi.RequestFieldTag]
		c.failed = false
		c.errDoc = c.errDoc[:0]
	}
	return nil
}

// send sends every call, at most Fanout at a time for this request (and
// never more than the provider's own limit across requests). One request
// is sent on the caller's goroutine.
func (x *exchange) send() {
	n := len(x.calls)
	switch n {
	case 0:
		return
	case 1:
		x.do(&x.calls[0])
		return
	}
	workers := min(n, x.t.fanout)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	done := make(chan struct{}, workers)
	work := func() {
		for i := range next {
			x.do(&x.calls[i])
		}
		done <- struct{}{}
	}
	for w := 1; w < workers; w++ {
		go work()
	}
	work()
	for w := 0; w < workers; w++ {
		<-done
	}
}

// do sends one call to the current leg's provider and counts it. A
// transport failure marks the call failed and is returned as the canonical
// error it becomes.
func (x *exchange) do(c *call) *abi.GuestError {
	start := time.Now()
	l := x.leg
	if err := l.provider.Do(&x.rc, x.deadline, &c.req, &c.ans); err != nil {
		c.failed = true
		ge := upstream.TransportError(err)
		c.errDoc = ge.AppendJSON(c.errDoc[:0])
		l.prov.m.Failed(string(ge.Code), time.Since(start))
		return ge
	}
	l.prov.m.Answered(c.ans.Status, time.Since(start))
	return nil
}

// appendAnswers appends FieldResponses: a frame of answer frames, in the
// order of the requests.
func (x *exchange) appendAnswers(f []byte) []byte {
	f, outer := abi.BeginField(f)
	f = abi.AppendFrame(f, len(x.calls))
	for i := range x.calls {
		c := &x.calls[i]
		var m, s int
		f, m = abi.BeginField(f)
		f = abi.AppendFrame(f, abi.ResponseFields)
		f = abi.AppendField(f, c.tag)
		f, s = abi.BeginField(f)
		if c.failed {
			f = append(f, '0')
		} else {
			f = strconv.AppendInt(f, int64(c.ans.Status), 10)
		}
		f = abi.EndField(f, s)
		if c.failed {
			f = abi.AppendFieldString(f, "application/json")
			f = abi.AppendField(f, c.errDoc)
		} else {
			f = abi.AppendField(f, c.ans.ContentType)
			f = abi.AppendField(f, c.ans.Body)
		}
		f = abi.EndField(f, m)
	}
	return abi.EndField(f, outer)
}

// fail answers a host-side failure: a results document with a top-level
// error, rendered by the inbound codec like any other answer.
func (x *exchange) fail(ge *abi.GuestError) {
	x.setFailure(ge)
	x.respond()
}

// setFailure records a host-side failure as the request's results.
func (x *exchange) setFailure(ge *abi.GuestError) {
	x.failed = true
	x.outcome = metrics.CodeOutcome(string(ge.Code))
	x.results = appendErrorResults(x.results[:0], ge)
}

// failPlugin answers the client for a failure of plugin i.
func (x *exchange) failPlugin(i int, err error) {
	x.fail(x.pluginError(i, err))
}

// pluginError turns a failure of plugin i into a canonical error. A guest
// error is the plugin's answer to the client and is passed on as it is; a
// fault (trap, deadline, bad output) is logged here, once, and the client
// gets an internal error without the plugin's internals.
func (x *exchange) pluginError(i int, err error) *abi.GuestError {
	var we *wasmhost.Error
	if errors.As(err, &we) && we.Guest != nil {
		return we.Guest
	}
	code := abi.CodeInternal
	if we != nil {
		code = we.Code()
	}
	if code == abi.CodeBusy {
		return errBusy
	}
	x.r.faults[i].Count(faultKind(err))
	if errors.Is(err, wasmhost.ErrDeadline) && !time.Now().Before(x.deadline) {
		x.s.logger.Warn("request deadline passed in a plugin", "route", x.r.name, "plugin", x.r.plugins[i].Name(), "err", err)
		return errTimeout
	}
	x.s.logger.Error("plugin failed", "route", x.r.name, "plugin", x.r.plugins[i].Name(), "err", err)
	return &abi.GuestError{Code: code, Message: "plugin " + x.r.plugins[i].Name() + " failed; see the relay's log"}
}

// respond renders x.results with the inbound codec and writes the answer.
// If the codec cannot render it, the answer is written natively.
func (x *exchange) respond() {
	r := x.r
	f := abi.AppendFrame(x.frame[:0], 4)
	f = abi.AppendField(f, r.inOpts)
	if x.hasBatch {
		f = abi.AppendField(f, x.batch)
	} else {
		f = abi.AppendField(f, nil)
	}
	f = abi.AppendField(f, x.results)
	x.frame = abi.AppendField(f, x.clientBody)
	in, err := x.instance(r.inbound)
	if err != nil {
		x.fallback(err)
		return
	}
	out, err := in.Call(&x.rc, abi.HookEncodeResponse, x.frame)
	if err != nil {
		x.fallback(err)
		return
	}
	x.fields, err = abi.Split(out, x.fields[:0])
	if err != nil || len(x.fields) != abi.ResponseFields {
		x.fallback(errors.New("proxy: encode_response returned a malformed answer"))
		return
	}
	status, ok := parseStatus(x.fields[abi.ResponseFieldStatus])
	if !ok {
		x.fallback(errors.New("proxy: encode_response returned a bad status"))
		return
	}
	body := x.fields[abi.ResponseFieldBody]
	if x.sealed, err = r.verifier.Seal(x.sealed[:0], body); err != nil {
		x.fallback(err)
		return
	}
	ctx := x.ctx
	ctx.SetStatusCode(status)
	if ct := x.fields[abi.ResponseFieldContentType]; len(ct) > 0 {
		ctx.Response.Header.SetContentTypeBytes(ct)
	} else {
		ctx.Response.Header.SetContentType("application/json")
	}
	ctx.SetBody(x.sealed)
}

// fallback writes the failure natively when the codec cannot.
func (x *exchange) fallback(err error) {
	ge := errBusy
	var we *wasmhost.Error
	switch {
	case errors.As(err, &we) && we.Code() == abi.CodeBusy:
	default:
		if we != nil {
			x.r.faults[x.r.inbound].Count(faultKind(err))
		}
		x.s.logger.Error("inbound codec cannot render the answer", "route", x.r.name, "err", err)
		ge = &abi.GuestError{Code: abi.CodeInternal, Message: "the relay cannot render its answer; see the relay's log"}
		// The outcome of the messages is in the results the codec could
		// not render: keep it in the log rather than lose it.
		if x.hasBatch {
			x.s.logger.Warn("unrendered results", "route", x.r.name, slog.String("results", string(x.results)))
		}
	}
	x.failed = true
	x.outcome = metrics.CodeOutcome(string(ge.Code))
	writeFallback(x.ctx, x.r.dialect, ge, time.Now())
}

// parseStatus reads an HTTP status in decimal ASCII.
func parseStatus(b []byte) (int, bool) {
	if len(b) != 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 100 && n <= 599
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
