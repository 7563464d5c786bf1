package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imrelay/imrelay/proxy/migrate"
)

// migrationRegistry returns a registry filled the way the relay fills it,
// on two routes.
func migrationRegistry() *migrate.Registry {
	r := migrate.NewRegistry()
	for i := range 25 {
		r.Shadow("chat", "youdu", "getsender->youdu", "text", migrate.Exact, "")
		if i%5 == 0 {
			r.Shadow("chat", "youdu", "getsender->youdu", "location", migrate.Rejected, "youdu has no location message")
		}
		if i%8 == 0 {
			r.Shadow("ops", "easemob", "youdu->easemob", "mail", migrate.Degraded, "mail sent as text")
		}
		r.Mirror("chat", "netease", "getsender->netease", "text", migrate.Divergence(i%4))
		r.Job("chat", "shadow", i == 3)
	}
	r.MirrorError("chat", "netease", "mirror", "rate_limited")
	r.Leg("ops", "easemob").Add(17)
	r.Leg("ops", "youdu").Add(6)
	return r
}

// adminServer serves rep as GET /admin/migration answers it, and counts the
// requests that reached that path.
func adminServer(t *testing.T, rep migrate.Report) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/migration", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, hits
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = doMain(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// hasRow reports whether some line of out has fields starting with want.
func hasRow(out string, want ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(want) && slices.Equal(f[:len(want)], want) {
			return true
		}
	}
	return false
}

func TestReportText(t *testing.T) {
	rep := migrationRegistry().Snapshot()
	srv, hits := adminServer(t, rep)
	// Both address forms: a URL base and a bare host:port.
	for _, admin := range []string{srv.URL, srv.URL + "/", strings.TrimPrefix(srv.URL, "http://")} {
		t.Run(admin, func(t *testing.T) {
			before := hits.Load()
			code, out, errOut := runCLI("report", "-admin", admin)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			if n := hits.Load() - before; n != 1 {
				t.Fatalf("GET /admin/migration reached %d times, want once", n)
			}
			for _, row := range rep.Shadow {
				if !hasRow(out, row.Route, row.Candidate, row.Pair, row.Kind,
					fmt.Sprint(row.Exact), fmt.Sprint(row.Degraded), fmt.Sprint(row.Rejected)) {
					t.Errorf("no shadow row %+v in:\n%s", row, out)
				}
				for _, re := range row.Reasons {
					if !strings.Contains(out, fmt.Sprintf("%s %d: %s", re.Outcome, re.Count, re.Reason)) {
						t.Errorf("reason %+v missing from:\n%s", re, out)
					}
				}
			}
			for _, row := range rep.Mirror {
				if row.Kind != "" && !hasRow(out, row.Route, row.Mirror, row.Pair, row.Kind,
					fmt.Sprint(row.Both), fmt.Sprint(row.PrimaryOnly), fmt.Sprint(row.MirrorOnly), fmt.Sprint(row.Neither)) {
					t.Errorf("no mirror row %+v in:\n%s", row, out)
				}
				for _, e := range row.Errors {
					if !hasRow(out, row.Route, row.Mirror, e.Side, e.Code, fmt.Sprint(e.Count)) {
						t.Errorf("no mirror error %+v in:\n%s", e, out)
					}
				}
			}
			for _, row := range rep.Split {
				if !hasRow(out, row.Route, row.Target, fmt.Sprint(row.Recipients)) {
					t.Errorf("no split row %+v in:\n%s", row, out)
				}
			}
			for _, row := range rep.Jobs {
				if !hasRow(out, row.Route, row.Job, fmt.Sprint(row.Done), fmt.Sprint(row.Dropped)) {
					t.Errorf("no jobs row %+v in:\n%s", row, out)
				}
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	rep := migrationRegistry().Snapshot()
	srv, _ := adminServer(t, rep)
	for _, tc := range []struct {
		route string
		want  migrate.Report
	}{
		{"", rep},
		{"ops", rep.Only("ops")},
		{"chat", rep.Only("chat")},
	} {
		t.Run("route="+tc.route, func(t *testing.T) {
			args := []string{"report", "-json", "-admin", srv.URL}
			if tc.route != "" {
				args = append(args, "-route", tc.route)
			}
			code, out, errOut := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			var got migrate.Report
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout is not a report: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if !strings.Contains(out, "\n  \"shadow\": [") {
				t.Errorf("JSON is not indented:\n%s", out)
			}
			if tc.route != "" {
				for _, r := range got.Routes() {
					if r != tc.route {
						t.Errorf("row of route %q kept with -route %s", r, tc.route)
					}
				}
			}
		})
	}
}

func TestReportRouteFilterText(t *testing.T) {
	srv, _ := adminServer(t, migrationRegistry().Snapshot())
	code, out, _ := runCLI("report", "-admin", srv.URL, "-route", "ops")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !hasRow(out, "ops", "easemob", "youdu->easemob", "mail") || strings.Contains(out, "chat") {
		t.Errorf("-route ops printed:\n%s", out)
	}

	code, out, errOut := runCLI("report", "-admin", srv.URL, "-route", "nope")
	if code != 0 {
		t.Fatalf("unknown route: exit %d", code)
	}
	if !strings.Contains(out, "migrate.shadow") {
		t.Errorf("unknown route: stdout %q, want the nothing-to-report line", out)
	}
	if !strings.Contains(errOut, `"nope"`) || !strings.Contains(errOut, "chat, ops") {
		t.Errorf("unknown route: stderr %q, want the route and the routes with data", errOut)
	}
}

func TestReportEmpty(t *testing.T) {
	srv, _ := adminServer(t, migrate.NewRegistry().Snapshot())
	code, out, errOut := runCLI("report", "-admin", srv.URL)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "migrate.cohort") {
		t.Errorf("empty report printed %q", out)
	}
}

func TestReportErrors(t *testing.T) {
	// An address nothing listens on: take a port, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/admin/migration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"shadow": [{"route": 5}]}`))
	})
	mux.HandleFunc("GET /plain/admin/migration", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream said no", http.StatusBadGateway)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"status":404,"code":"not_found","message":"no such endpoint"}}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		admin string
		want  []string
	}{
		{"refused", refused, []string{refused, "-admin " + refused, "admin.addr"}},
		{"not found", srv.URL, []string{"404", "not_found: no such endpoint", srv.URL + "/admin/migration"}},
		{"plain error body", srv.URL + "/plain", []string{"502", "upstream said no"}},
		{"bad json", srv.URL + "/v1", []string{"not a migration report", srv.URL + "/v1/admin/migration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI("report", "-admin", tc.admin)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not contain %q", errOut, w)
				}
			}
		})
	}
}

func TestReportFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-bogus"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-admin", "ftp://127.0.0.1:9090"}, 2},
		{[]string{"-admin", "http://"}, 2},
		{[]string{"-admin", ""}, 2},
		{[]string{"-h"}, 0},
	} {
		code, _, errOut := runCLI(append([]string{"report"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("report %q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errOut)
		}
		if errOut == "" {
			t.Errorf("report %q: nothing on stderr", tc.args)
		}
	}
}

func TestMigrationURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:9090", "http://127.0.0.1:9090/admin/migration"},
		{"localhost:9090", "http://localhost:9090/admin/migration"},
		{"http://127.0.0.1:9090", "http://127.0.0.1:9090/admin/migration"},
		{"http://127.0.0.1:9090/", "http://127.0.0.1:9090/admin/migration"},
		{"https://relay.example:8443/ops", "https://relay.example:8443/ops/admin/migration"},
		{"[::1]:9090", "http://[::1]:9090/admin/migration"},
	} {
		got, err := migrationURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("migrationURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestUsageListsReport(t *testing.T) {
	code, out, _ := runCLI("help")
	if code != 0 || !strings.Contains(out, "  report ") {
		t.Errorf("help (exit %d) does not list report:\n%s", code, out)
	}
}
