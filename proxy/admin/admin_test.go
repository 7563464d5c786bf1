package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/migrate"
)

// fakeRelay is a Relay with fixed answers.
type fakeRelay struct {
	m     *metrics.Set
	ready error
	mig   *migrate.Registry
}

func (f *fakeRelay) Routes() []proxy.RouteInfo {
	return []proxy.RouteInfo{{Name: "netease->easemob", Dialect: "netease", Target: "easemob"}}
}
func (f *fakeRelay) Plugins() []proxy.PluginInfo {
	return []proxy.PluginInfo{{Name: "netease", Kind: "codec", SHA256: "ab12", PoolSize: 4}}
}
func (f *fakeRelay) Ready() error          { return f.ready }
func (f *fakeRelay) Metrics() *metrics.Set { return f.m }
func (f *fakeRelay) Migration() migrate.Report {
	return f.mig.Snapshot()
}

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// errorShape checks the one error shape and returns its code.
func errorShape(t *testing.T, status int, body string) string {
	t.Helper()
	var e struct {
		Error Error `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Status != status || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the admin error shape (status %d): %s", status, body)
	}
	return e.Error.Code
}

func TestAdmin(t *testing.T) {
	reloads := 0
	var failNext error
	h := New(Options{Reload: func(context.Context) error {
		if failNext != nil {
			return failNext
		}
		reloads++
		return nil
	}})

	// Before the relay is set: starting.
	if st, body := do(t, h, "GET", "/readyz"); st != 503 || !strings.Contains(body, "starting") {
		t.Errorf("readyz before start: %d %s", st, body)
	}
	if st, body := do(t, h, "GET", "/admin/routes"); st != 503 || errorShape(t, st, body) != "starting" {
		t.Errorf("routes before start: %d %s", st, body)
	}
	if st, _ := do(t, h, "GET", "/healthz"); st != 200 {
		t.Errorf("healthz: %d", st)
	}

	f := &fakeRelay{m: metrics.New(metrics.Sources{}), mig: migrate.NewRegistry()}
	h.SetRelay(f)
	if st, body := do(t, h, "GET", "/readyz"); st != 200 {
		t.Errorf("readyz: %d %s", st, body)
	}
	f.ready = errors.New("shutting down")
	if st, _ := do(t, h, "GET", "/readyz"); st != 503 {
		t.Errorf("readyz while not ready: %d", st)
	}
	st, body := do(t, h, "GET", "/admin/routes")
	if st != 200 || !strings.Contains(body, `"netease->easemob"`) {
		t.Errorf("routes: %d %s", st, body)
	}
	st, body = do(t, h, "GET", "/admin/plugins")
	if st != 200 || !strings.Contains(body, `"sha256": "ab12"`) || !strings.Contains(body, `"pool_size": 4`) {
		t.Errorf("plugins: %d %s", st, body)
	}
	f.mig.Shadow("chat", "youdu", "getsender->youdu", "location", migrate.Degraded, "no location in youdu")
	st, body = do(t, h, "GET", "/admin/migration")
	var rep migrate.Report
	if err := json.Unmarshal([]byte(body), &rep); st != 200 || err != nil || len(rep.Shadow) != 1 || rep.Shadow[0].Degraded != 1 || rep.Shadow[0].Kind != "location" {
		t.Errorf("migration: %d %s (%v)", st, body, err)
	}
	st, body = do(t, h, "GET", "/metrics")
	if st != 200 || !strings.Contains(body, "imrelay_reloads_total") {
		t.Errorf("metrics: %d %.300s", st, body)
	}

	if st, body := do(t, h, "POST", "/admin/routes"); st != 405 || errorShape(t, st, body) != "method_not_allowed" {
		t.Errorf("POST routes: %d %s", st, body)
	}
	if st, body := do(t, h, "GET", "/admin/reload"); st != 405 || errorShape(t, st, body) != "method_not_allowed" {
		t.Errorf("GET reload: %d %s", st, body)
	}
	if st, body := do(t, h, "GET", "/nope"); st != 404 || errorShape(t, st, body) != "not_found" {
		t.Errorf("unknown: %d %s", st, body)
	}
	if st, body := do(t, h, "POST", "/admin/reload"); st != 200 || reloads != 1 || !strings.Contains(body, `"reloaded": true`) {
		t.Errorf("reload: %d %s (reloads %d)", st, body, reloads)
	}
	failNext = errors.New("config: relay.yaml: routes[0].target: no provider named \"x\"")
	st, body = do(t, h, "POST", "/admin/reload")
	if st != 422 || errorShape(t, st, body) != "reload_failed" || !strings.Contains(body, "routes[0].target") {
		t.Errorf("failed reload: %d %s", st, body)
	}

	none := New(Options{})
	none.SetRelay(f)
	if st, body := do(t, none, "POST", "/admin/reload"); st != 501 || errorShape(t, st, body) != "not_implemented" {
		t.Errorf("reload without a file: %d %s", st, body)
	}
}
