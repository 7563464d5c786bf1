package e2e

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
)

// idmapTable is the id mapping the tests give the idmap middleware: the
// getsender client's ids on the left, the NetEase accounts on the right.
var idmapTable = map[string]any{
	"users":    map[string]any{"alice": "ne_alice", "gs_bob": "ne_bob"},
	"unmapped": "reject",
}

// withIdmap puts idmap on the getsender → netease route with idmapTable as
// its plugin configuration.
func withIdmap(c *config.Config) {
	for i := range c.Routes {
		if c.Routes[i].Name == config.Getsender+"->"+config.Netease {
			c.Routes[i].Middleware = []string{"idmap"}
		}
	}
	c.Plugins.Config = map[string]any{"idmap": idmapTable}
}

// TestIdmapOnRoute sends getsender messages through a route whose idmap
// middleware maps the client's ids into NetEase's namespace, from the table
// in the relay's configuration: the message must arrive from and to the
// mapped accounts, and an id missing from the table (unmapped: reject) must
// be refused with nothing sent.
func TestIdmapOnRoute(t *testing.T) {
	e := newEnv(t, withIdmap)
	path, body := textRequest(config.Getsender, "gs_bob", "mapped hello")
	a := e.send(config.Getsender, config.Netease, good, path, body)
	if !accepted(config.Getsender, a, "ne_bob") {
		t.Fatalf("mapped message refused: %d %s", a.status, a.body)
	}
	got := e.inbox(config.Netease, "ne_bob")
	if len(got) != 1 {
		t.Fatalf("ne_bob received %d messages, want 1", len(got))
	}
	if got[0].From != "ne_alice" {
		t.Errorf("from = %q, want the mapped ne_alice", got[0].From)
	}
	if n := len(e.inbox(config.Netease, "gs_bob")); n != 0 {
		t.Errorf("the unmapped id gs_bob received %d messages", n)
	}

	path, body = textRequest(config.Getsender, "stranger", "not in the table")
	a = e.send(config.Getsender, config.Netease, good, path, body)
	if accepted(config.Getsender, a, "stranger") || !strings.Contains(a.body, "stranger") {
		t.Errorf("an id missing from the table was not refused by name: %d %s", a.status, a.body)
	}
	if n := len(e.inbox(config.Netease, "stranger")); n != 0 {
		t.Errorf("stranger received %d messages", n)
	}
}

// TestIdmapNeedsItsTable checks that a route using idmap without a table in
// plugins.config does not start, and says why.
func TestIdmapNeedsItsTable(t *testing.T) {
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{
			"sender": {Dialect: config.Getsender, BaseURL: "http://127.0.0.1:9", Credentials: config.Credentials{
				Client: "c", Token: config.SecretValue("t"),
			}},
		},
		Routes: []config.Route{{
			Name: "idmap", Dialect: config.Getsender, Target: "sender",
			Auth: config.Auth{Disabled: true}, Middleware: []string{"idmap"},
		}},
		Plugins: config.PluginHost{CacheDir: wasmhost.DefaultCacheDir()},
	}
	must(t, cfg.Validate())
	s, err := proxy.New(context.Background(), cfg, proxy.Options{Plugin: pluginFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		_ = s.Close(context.Background())
		t.Fatal("the relay started with idmap and no id table")
	}
	if !strings.Contains(err.Error(), "idmap: no configuration") {
		t.Errorf("error %q does not say idmap has no configuration", err)
	}
}
