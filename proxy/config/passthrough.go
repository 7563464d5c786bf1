package config

import (
	"fmt"
	"strings"
)

// NeteasePrefix is the path the NetEase codec puts before every path it
// encodes unless its `prefix` option says otherwise (plugins/netease): the
// official SDK sends both APIs under /nimserver.
const NeteasePrefix = "/nimserver"

// PassthroughPrefix returns the path a pass-through route puts before the
// client's path (once a leading /nimserver is removed from it), so the
// forwarded path joins the provider's base_url exactly as the NetEase codec
// would have built it: the `prefix` of the route's options.target, else of
// the provider's options, else [NeteasePrefix]. from names the key it came
// from ("" for the default); err says why a written prefix is unusable.
func PassthroughPrefix(p *Provider, r *Route) (prefix, from string, err error) {
	prefix, from = NeteasePrefix, ""
	var v any
	switch {
	case hasKey(r.Options["target"], "prefix"):
		v, from = r.Options["target"]["prefix"], "options.target.prefix"
	case p != nil && hasKey(p.Options, "prefix"):
		v, from = p.Options["prefix"], "providers."+p.Name+".options.prefix"
	default:
		return prefix, from, nil
	}
	s, ok := v.(string)
	if !ok || !validPrefix(s) {
		return "", from, fmt.Errorf("%v is not \"\" or a path like %q", v, NeteasePrefix)
	}
	return s, from, nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// validPrefix accepts "" or "/seg[/seg…]" of unreserved characters, with
// no "." or ".." segment: nothing a vendor could read as another path.
func validPrefix(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != '/' {
		return false
	}
	for _, seg := range strings.Split(s[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
				return false
			}
		}
	}
	return true
}

// validatePassthrough checks a pass-through route: NetEase clients to a
// NetEase provider, and nothing that only makes sense when the messages
// are decoded and encoded again. Every problem is reported under the key
// `routes[i] (name): passthrough`. Like the rest of Validate it may run
// again on a configuration it already filled with defaults: what it
// accepts, the defaults included, it accepts again.
func (r *Route) validatePassthrough(v *validator, i int, c *Config) {
	if !r.Passthrough {
		return
	}
	key := fmt.Sprintf("routes[%d] (%s): passthrough", i, r.Name)
	const undo = "or remove `passthrough` to translate the calls"
	if r.Dialect != Netease {
		v.add(key, fmt.Sprintf("the route's dialect is %q: only NetEase calls can be forwarded as they are", r.Dialect),
			"use it on a `dialect: netease` route, "+undo)
	}
	p := c.Providers[r.Target]
	if p != nil && p.Dialect != Netease {
		v.add(key, fmt.Sprintf("the target %q has dialect %s: a NetEase call can be forwarded only to a netease provider", r.Target, p.Dialect),
			"target a provider with `dialect: netease`, "+undo)
	}
	if len(r.Middleware) > 0 {
		v.add(key, "the route has middleware, which runs on decoded messages, and a pass-through route decodes none",
			"remove `middleware`, "+undo)
	}
	if !r.Migrate.unset() {
		v.add(key, "the route has a `migrate` block: split, cohort, mirror and shadow work on decoded messages, and a pass-through route decodes none",
			"remove `migrate`, "+undo)
	}
	if r.Policy == PolicyDegrade {
		v.add(key, "`policy: degrade` lets messages be translated into a fallback form, and a pass-through route translates none",
			"remove `policy`")
	}
	for _, k := range sortedKeys(r.Options) {
		switch k {
		case "target":
			for _, o := range sortedKeys(r.Options[k]) {
				if o != "prefix" {
					v.add(key, fmt.Sprintf("`options.target.%s` only changes how messages are encoded, and a pass-through route encodes none", o),
						"remove it; only `options.target.prefix` applies to a pass-through route")
				}
			}
		case "inbound":
			v.add(key, "`options.inbound` configures the decoding of the client's messages, and a pass-through route decodes none",
				"remove it; only `options.target.prefix` applies to a pass-through route")
		}
	}
	if r.Media.Rehost || len(r.Media.Sources) > 0 {
		v.add(key, "`media.rehost` and `media.sources` configure the media bridge, which does not run on a pass-through route: attachments reach the provider as the client sent them",
			"remove them")
	}
	if p != nil && p.Dialect == Netease {
		if _, from, err := PassthroughPrefix(p, r); err != nil {
			v.add(key, fmt.Sprintf("`%s` %v", from, err), "write \"\" or a path such as /nimserver (no trailing slash)")
		}
	}
}

// unset reports whether a route has no migration control: no split,
// cohort, mirror or shadow, and key, queue and workers absent or at their
// defaults (which Validate fills in).
func (m *Migrate) unset() bool {
	return !m.Enabled() &&
		(m.Key == "" || m.Key == "recipient") &&
		(m.Queue == 0 || m.Queue == DefaultMigrateQueue) &&
		(m.Workers == 0 || m.Workers == DefaultMigrateWorkers)
}
