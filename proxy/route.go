package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/inbound"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// route is a configured route, compiled at load: everything a request
// needs is resolved here, so serving one looks nothing up by name.
type route struct {
	name     string
	dialect  string
	dialects string // "inbound->target", for the request log
	method   []byte
	host     []byte     // lowercase; empty matches any
	patterns [][][]byte // per pattern, its segments; "*" one segment, "**" the rest

	verifier  *inbound.Verifier
	tokenPath []byte // relay-owned token endpoint, or nil

	// plugins lists each plugin the route uses once, in the order a
	// request first needs it; one instance of each is pinned per request.
	plugins    []*wasmhost.Plugin
	inbound    int               // index in plugins
	middleware []int             // indexes in plugins, in order
	inOpts     []byte            // options JSON for the inbound codec
	mwOpts     [][]byte          // options JSON per middleware
	faults     []*metrics.Faults // per plugin, as plugins
	metrics    *metrics.Route    // resolved at build: no lookup per request

	// legs are the providers the route's messages go to: one, or those of
	// its split or cohort, in hash-range order (proxy/migrate).
	legs   []*leg
	assign *assigner // nil with one leg
	// mirror and shadow are the background controls (migrate.go).
	mirror *leg
	shadow []*leg
	jobs   chan *job // nil without mirror and shadow

	// passthrough forwards each verified call to legs[0] as it is, with
	// ptPrefix before its path (passthrough.go).
	passthrough bool
	ptPrefix    []byte
}

// leg is one provider a route translates for: where its messages go, with
// which codec and options.
type leg struct {
	name     string // the provider's name
	dialects string // "inbound->target", for logs and reports
	target   int    // the target codec's index in route.plugins
	opts     []byte // options JSON for the target codec
	provider *upstream.Provider
	prov     *provider // the provider's broker and metrics
	// For shadow candidates: opts with the policy forced each way.
	rejectOpts, degradeOpts []byte
}

var (
	segOne  = []byte("*")
	segRest = []byte("**")
)

func compilePattern(p string) [][]byte {
	var segs [][]byte
	for _, s := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		segs = append(segs, []byte(s))
	}
	return segs
}

// matchPath reports whether the raw path matches one of the patterns.
func (r *route) matchPath(path []byte) bool {
	for _, segs := range r.patterns {
		if matchSegments(segs, path) {
			return true
		}
	}
	return false
}

func matchSegments(segs [][]byte, path []byte) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	rest := path[1:]
	if n := len(rest); n > 0 && rest[n-1] == '/' {
		rest = rest[:n-1] // one trailing slash is tolerated
	}
	for i, seg := range segs {
		if i == len(segs)-1 && bytes.Equal(seg, segRest) {
			return true
		}
		if rest == nil {
			return false // the path ended first
		}
		var cur []byte
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			cur, rest = rest[:j], rest[j+1:]
		} else {
			cur, rest = rest, nil
		}
		if bytes.Equal(seg, segOne) {
			if len(cur) == 0 {
				return false
			}
			continue
		}
		if !bytes.Equal(seg, cur) {
			return false
		}
	}
	return rest == nil
}

// matchHost compares the request's Host (port dropped) case-insensitively.
func (r *route) matchHost(host []byte) bool {
	if len(r.host) == 0 {
		return true
	}
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return bytes.EqualFold(host, r.host)
}

// router finds the route of a request by method, host and path; routes are
// tried in the order of the configuration.
type router struct {
	routes []*route
}

// match returns the route and whether the call is for its token endpoint.
func (rt *router) match(ctx *fasthttp.RequestCtx) (*route, bool) {
	path := ctx.URI().PathOriginal()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	method := ctx.Method()
	host := ctx.Host()
	for _, r := range rt.routes {
		if !r.matchHost(host) {
			continue
		}
		if r.tokenPath != nil && bytes.Equal(path, r.tokenPath) {
			return r, true
		}
		if bytes.Equal(method, r.method) && r.matchPath(path) {
			return r, false
		}
	}
	return nil, false
}

// buildOptions returns the options JSON a plugin receives: the layers
// merged key by key, later layers winning.
func buildOptions(layers ...map[string]any) ([]byte, error) {
	m := map[string]any{}
	for _, l := range layers {
		maps.Copy(m, l)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("proxy: options: %w", err)
	}
	return b, nil
}

// targetOptions are the options a route gives the codec of provider pc:
// the provider's, the host's, the route's "target" options and the
// policy, in that order.
func targetOptions(pc *config.Provider, rc *config.Route, policy string) ([]byte, error) {
	return buildOptions(pc.Options, codecOptions(pc.Dialect, &pc.Credentials), rc.Options["target"], map[string]any{"policy": policy})
}

// codecOptions are the options the host itself gives a codec for a
// dialect's account: the Easemob org and app that appear in its paths.
func codecOptions(dialect string, c *config.Credentials) map[string]any {
	if dialect == config.Easemob && c.Org != "" {
		return map[string]any{"org": c.Org, "app": c.App}
	}
	return nil
}
