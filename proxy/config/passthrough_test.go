package config

import (
	"strings"
	"testing"
)

const passthroughMinimal = `
listeners: [{addr: "127.0.0.1:0"}]
providers:
  ne:
    dialect: netease
    base_url: http://127.0.0.1:9
    credentials: {app_key: k, app_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}}
  em:
    dialect: easemob
    base_url: http://127.0.0.1:9
    credentials: {org: o, app: a, client_id: c, client_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}}
routes:
  - name: pass
    dialect: netease
    target: ne
    passthrough: true
    auth: {app_key: ck, app_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}}
`

// TestPassthroughLoads: a NetEase route to a NetEase provider may pass
// through, and validating it again (defaults filled in) still accepts it.
func TestPassthroughLoads(t *testing.T) {
	setTestEnv(t)
	for _, y := range []string{
		passthroughMinimal,
		passthroughMinimal + "    policy: reject\n    media: {off: true}\n",
		passthroughMinimal + "    options: {target: {prefix: \"\"}}\n",
	} {
		c, err := Parse("relay.yaml", []byte(y))
		if err != nil {
			t.Fatalf("%s: %v", y, err)
		}
		if !c.Routes[0].Passthrough {
			t.Fatal("passthrough not read")
		}
		if err := c.Validate(); err != nil {
			t.Errorf("a second Validate refuses what the first accepted: %v", err)
		}
	}
}

// TestPassthroughErrors: every combination a pass-through route cannot
// honour is refused under routes[i] (name): passthrough, with a fix.
func TestPassthroughErrors(t *testing.T) {
	setTestEnv(t)
	const key = "routes[0] (pass): passthrough: "
	cases := []struct{ name, yaml, want string }{
		{"getsender dialect", strings.Replace(passthroughMinimal, "dialect: netease\n    target", "dialect: getsender\n    target", 1), `the route's dialect is "getsender"`},
		{"easemob target", strings.Replace(passthroughMinimal, "target: ne", "target: em", 1), `the target "em" has dialect easemob`},
		{"middleware", passthroughMinimal + "    middleware: [idmap]\n", "the route has middleware"},
		{"migrate mirror", passthroughMinimal + "    migrate: {mirror: em}\n", "the route has a `migrate` block"},
		{"migrate shadow", passthroughMinimal + "    migrate: {shadow: [em]}\n", "the route has a `migrate` block"},
		{"migrate workers", passthroughMinimal + "    migrate: {workers: 4}\n", "the route has a `migrate` block"},
		{"policy degrade", passthroughMinimal + "    policy: degrade\n", "`policy: degrade`"},
		{"target option", passthroughMinimal + "    options: {target: {api: v1}}\n", "`options.target.api`"},
		{"inbound option", passthroughMinimal + "    options: {inbound: {now: 1}}\n", "`options.inbound`"},
		{"media rehost", passthroughMinimal + "    media: {rehost: true}\n", "`media.rehost`"},
		{"media sources", passthroughMinimal + "    media: {sources: [ne]}\n", "`media.rehost` and `media.sources`"},
		{"bad route prefix", passthroughMinimal + "    options: {target: {prefix: nimserver/}}\n", "`options.target.prefix` nimserver/ is not"},
		{"dot prefix", passthroughMinimal + "    options: {target: {prefix: /a/..}}\n", "`options.target.prefix` /a/.. is not"},
		{"bad provider prefix", strings.Replace(passthroughMinimal, "    credentials: {app_key: k,", "    options: {prefix: 7}\n    credentials: {app_key: k,", 1), "`providers.ne.options.prefix` 7 is not"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := parseError(t, tc.yaml)
			var line string
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.Contains(l, key) && strings.Contains(l, tc.want) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no error under %q containing %q in:\n%v", key, tc.want, err)
			}
			if !strings.HasPrefix(line, "config: relay.yaml: ") || !strings.Contains(line, "(fix: ") {
				t.Errorf("error %q lacks the file or a fix", line)
			}
		})
	}
}

// TestPassthroughPrefix: the prefix comes from the route, then the
// provider, then the codec's default.
func TestPassthroughPrefix(t *testing.T) {
	p := &Provider{Name: "ne", Dialect: Netease, Options: map[string]any{"prefix": "/p"}}
	r := &Route{Options: map[string]map[string]any{"target": {"prefix": ""}}}
	for _, tc := range []struct {
		p          *Provider
		r          *Route
		want, from string
	}{
		{&Provider{Name: "ne"}, &Route{}, NeteasePrefix, ""},
		{p, &Route{}, "/p", "providers.ne.options.prefix"},
		{p, r, "", "options.target.prefix"},
	} {
		got, from, err := PassthroughPrefix(tc.p, tc.r)
		if err != nil || got != tc.want || from != tc.from {
			t.Errorf("PassthroughPrefix = %q, %q, %v; want %q from %q", got, from, err, tc.want, tc.from)
		}
	}
}
