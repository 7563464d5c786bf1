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

// TestIdmapOnRoute wires the idmap middleware into a route through the
// relay's configuration. idmap's table is its plugin configuration, which
// the relay's YAML cannot give yet, so the relay loads it with none, and
// idmap refuses that at load: the relay must not start, and must say why.
// (When plugin configuration reaches the relay, this test grows a table
// and checks the ids a provider's inbox receives.)
func TestIdmapOnRoute(t *testing.T) {
	for _, name := range []string{"idmap", config.Getsender} {
		if !codecAvailable(name) {
			t.Skipf("needs plugins/%s built (make plugins)", name)
		}
	}
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
