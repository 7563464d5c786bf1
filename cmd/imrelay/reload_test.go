package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const reloadYAML = `listeners:
  - addr: "127.0.0.1:0"
admin:
  addr: "127.0.0.1:0"
providers:
  ne:
    dialect: netease
    base_url: http://127.0.0.1:1
    credentials:
      app_key: vendorkey
      app_secret: {env: IMRELAY_TEST_SECRET}
routes:
  - name: ROUTE
    dialect: netease
    target: ne
    auth:
      app_key: clientkey
      app_secret: {env: IMRELAY_TEST_SECRET}
`

// TestServeReload runs `imrelay serve -config` with an admin listener and
// reloads the edited file twice: through the admin API, then by SIGHUP.
func TestServeReload(t *testing.T) {
	t.Setenv("IMRELAY_TEST_SECRET", "s3cret")
	file := filepath.Join(t.TempDir(), "relay.yaml")
	write := func(route string) {
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(reloadYAML, "ROUTE", route)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	hup := make(chan error, 1)
	hupDone = func(err error) { hup <- err }
	t.Cleanup(func() { hupDone = nil })

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	ready := make(chan string, 1)
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-config", file}, &stdout, &stderr, ready) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr.String())
		}
	})
	var main string
	select {
	case main = <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not get ready")
	}
	m := regexp.MustCompile(`msg="admin listening" addr=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", stderr.String())
	}
	admin := "http://" + m[1]
	get := func(method, path string) (int, string) {
		t.Helper()
		base := admin
		if strings.HasPrefix(path, "main:") {
			base, path = "http://"+main, strings.TrimPrefix(path, "main:")
		}
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The relay's own listener answers health too (and is then surely
	// serving, so the shutdown at the end finds it).
	if st, body := get("GET", "main:/healthz"); st != 200 {
		t.Fatalf("healthz on the main listener: %d %s", st, body)
	}
	if st, body := get("GET", "/readyz"); st != 200 {
		t.Fatalf("readyz: %d %s", st, body)
	}
	if _, body := get("GET", "/admin/routes"); !strings.Contains(body, `"first"`) {
		t.Fatalf("routes: %s", body)
	}

	write("second")
	if st, body := get("POST", "/admin/reload"); st != 200 || !strings.Contains(body, `"second"`) {
		t.Fatalf("admin reload: %d %s", st, body)
	}

	write("third")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-hup:
		if err != nil {
			t.Fatalf("SIGHUP reload: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("SIGHUP was not acted on")
	}
	if _, body := get("GET", "/admin/routes"); !strings.Contains(body, `"third"`) {
		t.Fatalf("routes after SIGHUP: %s", body)
	}

	// A broken file is refused and the configuration in effect stays.
	if err := os.WriteFile(file, []byte("routes: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, body := get("POST", "/admin/reload"); st != 422 || !strings.Contains(body, "relay.yaml") {
		t.Fatalf("broken reload: %d %s", st, body)
	}
	if _, body := get("GET", "/admin/routes"); !strings.Contains(body, `"third"`) {
		t.Fatalf("routes after a refused reload: %s", body)
	}
	if st, body := get("GET", "/metrics"); st != 200 || !strings.Contains(body, `imrelay_reloads_total{result="ok"} 2`) || !strings.Contains(body, `imrelay_reloads_total{result="error"} 1`) {
		t.Fatalf("metrics: %d\n%s", st, body)
	}
}
