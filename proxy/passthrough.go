package proxy

import (
	"bytes"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/sdk/abi"
)

// A pass-through route (`routes[].passthrough`, NetEase to NetEase only)
// forwards the client's call as it is: once inbound auth has verified it
// (CheckSum, replay, limits, header size), the client's method, raw path,
// query, content type and body become one provider request, signed by
// upstream.Provider.Do with the provider's credentials like any request a
// codec built, and the provider's status, content type and body are the
// client's answer, byte for byte. No plugin runs on the way. Failures of
// the relay itself (deadline, transport, busy) still go through fail and
// the inbound codec's encode_response, so the client reads them in
// NetEase's own error shape, as on every other route.

// errPassthroughPath refuses a path the vendor could read as another
// endpoint than the one the route matched.
var errPassthroughPath = &abi.GuestError{Code: abi.CodeBadRequest, Message: "the request path has a dot segment or an encoded separator, which a pass-through route does not forward"}

// compilePassthrough readies r to forward calls as they are, when its
// configuration asks for it: the path the forwarded path starts with, as
// the NetEase codec would have put it.
func compilePassthrough(t *table, rc *config.Route, r *route) error {
	if !rc.Passthrough {
		return nil
	}
	prefix, from, err := config.PassthroughPrefix(t.cfg.Providers[rc.Target], rc)
	if err != nil {
		return fmt.Errorf("passthrough: %s: %w", from, err)
	}
	r.passthrough = true
	r.ptPrefix = []byte(prefix)
	return nil
}

// nimserver is the optional first segment of every NetEase path.
var nimserver = []byte(config.NeteasePrefix)

// passthrough sends the verified call to the route's provider and writes
// its answer back verbatim.
func (x *exchange) passthrough() {
	ctx := x.ctx
	path := rawPath(ctx)
	if !forwardablePath(path) {
		x.fail(errPassthroughPath)
		return
	}
	x.ptPath = appendForwardPath(x.ptPath[:0], x.r.ptPrefix, path)
	if cap(x.calls) == 0 {
		x.calls = make([]call, 1)
	}
	x.calls = x.calls[:1]
	c := &x.calls[0]
	c.req = upstream.Request{
		Method:      ctx.Method(),
		Path:        x.ptPath,
		Query:       ctx.URI().QueryString(),
		ContentType: ctx.Request.Header.ContentType(),
		Body:        x.clientBody,
	}
	c.tag, c.failed, c.errDoc = nil, false, c.errDoc[:0]

	x.sent = 1
	if ge := x.do(c); ge != nil {
		// Not sent, or sent with no answer (delivery unknown): the client
		// gets the relay's error, never a success.
		x.fail(ge)
		return
	}
	x.forwarded = true
	x.outcome = passthroughOutcome(c.ans.Status, c.ans.Body)
	ctx.SetStatusCode(c.ans.Status)
	if len(c.ans.ContentType) > 0 {
		ctx.Response.Header.SetContentTypeBytes(c.ans.ContentType)
	} else {
		ctx.Response.Header.SetNoDefaultContentType(true)
	}
	ctx.SetBody(c.ans.Body)
}

// appendForwardPath appends the provider path of a client's raw path: the
// route's prefix, then the path without its own /nimserver, so that both
// spellings NetEase accepts join the base URL the way the codec's paths do
// (prefix + /im/v2/…, prefix + /msg/…). The path keeps its percent-encoding.
func appendForwardPath(dst, prefix, path []byte) []byte {
	if bytes.HasPrefix(path, nimserver) && (len(path) == len(nimserver) || path[len(nimserver)] == '/') {
		path = path[len(nimserver):]
	}
	dst = append(dst, prefix...)
	dst = append(dst, path...)
	if len(dst) == 0 {
		dst = append(dst, '/')
	}
	return dst
}

// forwardablePath reports whether a raw path can be forwarded as it is:
// no "." or ".." segment (written or percent-encoded) and no encoded slash
// or backslash, so the vendor resolves the same endpoint the route
// matched, whatever its own path normalisation does.
func forwardablePath(p []byte) bool {
	if bytes.IndexByte(p, '\\') >= 0 {
		return false
	}
	for i := 0; i+2 < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		switch {
		case p[i+1] == '2' && (p[i+2] == 'f' || p[i+2] == 'F'),
			p[i+1] == '5' && (p[i+2] == 'c' || p[i+2] == 'C'):
			return false
		}
	}
	for len(p) > 0 {
		var seg []byte
		if j := bytes.IndexByte(p, '/'); j >= 0 {
			seg, p = p[:j], p[j+1:]
		} else {
			seg, p = p, nil
		}
		if dots := dotSegment(seg); dots == 1 || dots == 2 {
			return false
		}
	}
	return true
}

// dotSegment returns how many dots seg holds when it is made of dots only,
// written or as %2e; otherwise 0.
func dotSegment(seg []byte) int {
	n := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case i+2 < len(seg) && seg[i] == '%' && seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
			i += 3
		default:
			return 0
		}
		n++
	}
	return n
}

// passthroughOutcome classifies a NetEase answer for the requests counter:
// ok when HTTP 2xx with code 200 and no receiver refused; failed when
// NetEase refused the call (another status or code, as a translated route
// counts a call whose every message failed); partial when a batch answer
// of code 200 names receivers it did not reach (v2 data.failed_list, v1
// unregister). A v1 unregister list counts as partial even when it names
// every receiver: the relay does not read the request to know them.
func passthroughOutcome(status int, body []byte) metrics.Outcome {
	if status < 200 || status > 299 {
		return metrics.OutcomeFailed
	}
	doc := unsafeString(body)
	if code := gjson.Get(doc, "code"); code.Type != gjson.Number || code.Num != 200 {
		return metrics.OutcomeFailed
	}
	if nonEmptyList(gjson.Get(doc, "data.failed_list")) {
		if nonEmptyList(gjson.Get(doc, "data.success_list")) {
			return metrics.OutcomePartial
		}
		return metrics.OutcomeFailed
	}
	if nonEmptyList(gjson.Get(doc, "unregister")) {
		return metrics.OutcomePartial
	}
	return metrics.OutcomeOK
}

// nonEmptyList reports whether r is a non-empty JSON array, or a string
// holding one (older NetEase servers quote unregister).
func nonEmptyList(r gjson.Result) bool {
	if r.Type == gjson.String {
		r = gjson.Parse(r.Str)
	}
	return r.IsArray() && r.Get("#").Int() > 0
}
