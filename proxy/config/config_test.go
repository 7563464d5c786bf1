package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func setTestEnv(t *testing.T) {
	t.Helper()
	t.Setenv("IMRELAY_TEST_EASEMOB_SECRET", "easemob-secret")
	t.Setenv("IMRELAY_TEST_GETSENDER_TOKEN", "eba920d452d34adb8f2badb08b9e69bb")
	t.Setenv("IMRELAY_TEST_YOUDU_KEY", "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ=")
}

func TestLoadFull(t *testing.T) {
	setTestEnv(t)
	c, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers["easemob"]
	if p.Name != "easemob" || p.Codec != "easemob" {
		t.Errorf("provider name/codec = %q/%q", p.Name, p.Codec)
	}
	if got := p.Credentials.ClientSecret.Value(); got != "easemob-secret" {
		t.Errorf("client_secret = %q", got)
	}
	if p.ReadTimeout != 5*time.Second || p.WriteTimeout != DefaultWriteTimeout || p.MaxConns != 32 || p.Concurrency != 32 {
		t.Errorf("provider timeouts/limits = %+v", p)
	}
	if len(c.Routes) != 3 {
		t.Fatalf("%d routes", len(c.Routes))
	}
	r := c.Routes[0]
	if r.Name != "netease-clients" || r.Method != "POST" || r.Policy != PolicyDegrade || r.Codec != "netease" {
		t.Errorf("route 0 = %+v", r)
	}
	if got := r.Auth.AppSecret.Value(); got != "netease-secret" {
		t.Errorf("secret from file = %q, want the file's first line", got)
	}
	if r.Options["target"]["endpoint"] != "legacy" {
		t.Errorf("options = %v", r.Options)
	}
	if len(r.Paths) != len(DefaultPaths(Netease, "", "")) {
		t.Errorf("default paths = %v", r.Paths)
	}
	if c.Routes[1].Name != "getsender->easemob" || c.Routes[1].Policy != PolicyReject {
		t.Errorf("route 1 defaults = %q %q", c.Routes[1].Name, c.Routes[1].Policy)
	}
	if c.Routes[2].Auth.IssuedTokenTTL != time.Hour || c.Routes[2].Auth.Buin != 666666 {
		t.Errorf("youdu auth = %+v", c.Routes[2].Auth)
	}
	if c.Limits.MaxBody != 512<<10 || c.Limits.MaxHeader != DefaultMaxHeader || c.Limits.MaxMessages != 200 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.Plugins.MemoryLimit != 64<<20 {
		t.Errorf("plugins = %+v", c.Plugins)
	}
}

const minimal = `
listeners: [{addr: "127.0.0.1:0"}]
providers:
  ne:
    dialect: netease
    base_url: http://127.0.0.1:9
    credentials: {app_key: k, app_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}}
routes:
  - dialect: getsender
    target: ne
    auth: {clients: [{id: c1, token: {env: IMRELAY_TEST_GETSENDER_TOKEN}}]}
`

// TestErrors checks that each mistake is reported with the file, the key
// and a fix.
func TestErrors(t *testing.T) {
	setTestEnv(t)
	cases := []struct {
		name, yaml string
		key, want  string
	}{
		{"unknown dialect", strings.Replace(minimal, "dialect: getsender", "dialect: wechat", 1), "routes[0].dialect", `"wechat" is not a dialect`},
		{"unknown target", strings.Replace(minimal, "target: ne", "target: nope", 1), "routes[0].target", `no provider named "nope"`},
		{"missing secret env", strings.Replace(minimal, "IMRELAY_TEST_EASEMOB_SECRET", "IMRELAY_TEST_UNSET_VAR", 1), "providers.ne.credentials.app_secret", "IMRELAY_TEST_UNSET_VAR is not set"},
		{"missing credential", strings.Replace(minimal, "app_key: k, ", "", 1), "providers.ne.credentials.app_key", "missing for dialect netease"},
		{"bad base url", strings.Replace(minimal, "http://127.0.0.1:9", "ftp://x", 1), "providers.ne.base_url", "not an http(s) URL"},
		{"no clients", strings.Replace(minimal, "auth: {clients: [{id: c1, token: {env: IMRELAY_TEST_GETSENDER_TOKEN}}]}", "auth: {}", 1), "routes[0].auth.clients", "no client"},
		{"bad policy", minimal + "    policy: maybe\n", "routes[0].policy", `"maybe" is not a policy`},
		{"bad listener", strings.Replace(minimal, "127.0.0.1:0", "8080", 1), "listeners[0].addr", "not host:port"},
		{"open relay", strings.Replace(strings.Replace(minimal, "127.0.0.1:0", "0.0.0.0:8080", 1),
			"auth: {clients: [{id: c1, token: {env: IMRELAY_TEST_GETSENDER_TOKEN}}]}", "auth: {disabled: true}", 1),
			"routes[0].auth.disabled", "no client authentication"},
		{"concurrency over conns", strings.Replace(minimal, "base_url: http://127.0.0.1:9", "base_url: http://127.0.0.1:9\n    max_conns: 2\n    concurrency: 3", 1), "providers.ne.concurrency", "cannot fit in 2 connections"},
		{"bad pattern", minimal + "    paths: [/a/*x/b]\n", "routes[0].paths[0]", "* must be a whole segment"},
		{"options for unknown plugin", minimal + "    options: {idmap: {a: 1}}\n", "routes[0].options.idmap", "not a plugin of this route"},
		{"passthrough from getsender", minimal + "    passthrough: true\n", "routes[0] (getsender->ne): passthrough", `the route's dialect is "getsender"`},
		{"passthrough to easemob", strings.Replace(passthroughMinimal, "target: ne", "target: em", 1), "routes[0] (pass): passthrough", `has dialect easemob`},
		{"passthrough with middleware", passthroughMinimal + "    middleware: [idmap]\n", "routes[0] (pass): passthrough", "the route has middleware"},
		{"passthrough with migrate", passthroughMinimal + "    migrate: {mirror: em}\n", "routes[0] (pass): passthrough", "the route has a `migrate` block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := parseError(t, tc.yaml).Error()
			for _, want := range []string{"relay.yaml", tc.key + ": ", tc.want, "(fix: "} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

// parseError parses a configuration that must be refused and returns the
// error, after checking it holds a *Error.
func parseError(t *testing.T, yaml string) error {
	t.Helper()
	_, err := Parse("relay.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("no error")
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *config.Error", err)
	}
	return err
}

func TestOpenRelayOnLoopbackIsAllowed(t *testing.T) {
	setTestEnv(t)
	y := strings.Replace(minimal, "auth: {clients: [{id: c1, token: {env: IMRELAY_TEST_GETSENDER_TOKEN}}]}", "auth: {disabled: true}", 1)
	if _, err := Parse("relay.yaml", []byte(y)); err != nil {
		t.Fatalf("a relay without client auth on loopback only must load: %v", err)
	}
}

func TestInlineSecretRefused(t *testing.T) {
	y := strings.Replace(minimal, "app_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}", "app_secret: hunter2", 1)
	_, err := Parse("relay.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "must not be written inline") {
		t.Fatalf("err = %v, want the inline secret refused", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error leaks the secret: %v", err)
	}
}

func TestUnknownKey(t *testing.T) {
	setTestEnv(t)
	_, err := Parse("relay.yaml", []byte(minimal+"    trget: ne\n"))
	if err == nil || !strings.Contains(err.Error(), "trget") || !strings.Contains(err.Error(), "relay.yaml") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	setTestEnv(t)
	c, err := Parse("relay.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s", c.Providers["ne"], *c.Providers["ne"], c.Routes[0].Auth, c.Routes[0].Auth.Clients[0].Token)
	for _, secret := range []string{"easemob-secret", "eba920d452d34adb8f2badb08b9e69bb"} {
		if strings.Contains(out, secret) {
			t.Errorf("formatted config shows a secret: %s", out)
		}
	}
	if !strings.Contains(out, "{env: IMRELAY_TEST_EASEMOB_SECRET}") {
		t.Errorf("formatted secret does not say where it comes from: %s", out)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"512": 512, "64KiB": 64 << 10, "1MiB": 1 << 20, "2 GiB": 2 << 30, "10B": 10, "3MB": 3 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "x"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "127.1.2.3": true, "": false, "0.0.0.0": false, "10.0.0.1": false, "example.com": false} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v", host, got)
		}
	}
}

// TestAdminAddr: the admin listener is loopback unless allow_remote.
func TestAdminAddr(t *testing.T) {
	for _, c := range []struct {
		admin Admin
		ok    bool
	}{
		{Admin{}, true},
		{Admin{Addr: "127.0.0.1:9090"}, true},
		{Admin{Addr: "0.0.0.0:9090"}, false},
		{Admin{Addr: "0.0.0.0:9090", AllowRemote: true}, true},
		{Admin{Addr: "9090"}, false},
	} {
		v := &validator{file: "relay.yaml"}
		c.admin.validate(v)
		if (len(v.errs) == 0) != c.ok {
			t.Errorf("%+v: errors %v", c.admin, v.errs)
		}
		for _, err := range v.errs {
			if !strings.Contains(err.Error(), "relay.yaml: admin.addr") || !strings.Contains(err.Error(), "fix:") {
				t.Errorf("message without file, key or fix: %v", err)
			}
		}
	}
}
