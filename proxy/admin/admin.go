// Package admin is the relay's operator listener: Prometheus metrics,
// health and readiness, and a small JSON API to list the routes and
// plugins in effect and to reload the configuration.
//
//	GET  /metrics         Prometheus text format
//	GET  /healthz         200 while the process runs
//	GET  /readyz          200 once every plugin is compiled and every provider configured
//	GET  /admin/routes    the routes in effect
//	GET  /admin/plugins   the plugins in effect: hash, source, pool figures
//	POST /admin/reload    re-read the configuration and plugins, switch atomically
//
// Every error is answered with one JSON shape:
//
//	{"error": {"status": 405, "code": "method_not_allowed", "message": "..."}}
//
// The listener is net/http: it serves operators and a scraper, not client
// traffic, and promhttp is a net/http handler.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/migrate"
)

// Relay is what the admin API reads from the relay; *proxy.Server is one.
type Relay interface {
	Routes() []proxy.RouteInfo
	Plugins() []proxy.PluginInfo
	Ready() error
	Metrics() *metrics.Set
	Migration() migrate.Report
}

var _ Relay = (*proxy.Server)(nil)

// Options configure a [Handler].
type Options struct {
	// Reload re-reads the configuration and applies it (Server.Reload
	// with a freshly loaded file). Nil: POST /admin/reload answers 501.
	Reload func(ctx context.Context) error
	// ReloadTimeout bounds one reload, draining included; default 30s.
	ReloadTimeout time.Duration
	// Logger receives one line per reload; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the admin listener. Until [Handler.SetRelay] is called
// (the relay is still loading its plugins) /readyz answers 503 and the
// API answers 503.
type Handler struct {
	opt     Options
	relay   atomic.Pointer[relayBox]
	mux     *http.ServeMux
	metrics atomic.Pointer[http.Handler]
	mu      sync.Mutex // one reload at a time
}

type relayBox struct{ r Relay }

// New returns the admin handler.
func New(opt Options) *Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ReloadTimeout <= 0 {
		opt.ReloadTimeout = 30 * time.Second
	}
	h := &Handler{opt: opt, mux: http.NewServeMux()}
	h.mux.HandleFunc("/metrics", h.serveMetrics)
	h.mux.HandleFunc("/healthz", h.get(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	h.mux.HandleFunc("/readyz", h.get(h.serveReady))
	h.mux.HandleFunc("/admin/routes", h.get(h.withRelay(func(w http.ResponseWriter, r Relay) {
		writeJSON(w, http.StatusOK, map[string]any{"routes": r.Routes()})
	})))
	h.mux.HandleFunc("/admin/plugins", h.get(h.withRelay(func(w http.ResponseWriter, r Relay) {
		writeJSON(w, http.StatusOK, map[string]any{"plugins": r.Plugins()})
	})))
	h.mux.HandleFunc("/admin/migration", h.get(h.withRelay(func(w http.ResponseWriter, r Relay) {
		writeJSON(w, http.StatusOK, r.Migration())
	})))
	h.mux.HandleFunc("/admin/reload", h.serveReload)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no admin endpoint "+r.URL.Path+"; see /admin/routes, /admin/plugins, /admin/migration, /admin/reload, /metrics, /healthz, /readyz")
	})
	return h
}

// SetRelay makes the handler serve r.
func (h *Handler) SetRelay(r Relay) {
	h.relay.Store(&relayBox{r})
	m := promhttp.HandlerFor(r.Metrics().Registry(), promhttp.HandlerOpts{})
	h.metrics.Store(&m)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) current() Relay {
	if b := h.relay.Load(); b != nil {
		return b.r
	}
	return nil
}

func (h *Handler) get(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": use GET")
			return
		}
		next(w, r)
	}
}

func (h *Handler) withRelay(next func(http.ResponseWriter, Relay)) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		r := h.current()
		if r == nil {
			writeError(w, http.StatusServiceUnavailable, "starting", "the relay is still loading its configuration")
			return
		}
		next(w, r)
	}
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	m := h.metrics.Load()
	if m == nil {
		writeError(w, http.StatusServiceUnavailable, "starting", "the relay is still loading its configuration")
		return
	}
	(*m).ServeHTTP(w, r)
}

func (h *Handler) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	r := h.current()
	if r == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: starting\n"))
		return
	}
	if err := r.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (h *Handler) serveReload(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", req.Method+" /admin/reload: use POST")
		return
	}
	if h.opt.Reload == nil {
		writeError(w, http.StatusNotImplemented, "not_implemented", "this relay has no configuration file to reload")
		return
	}
	r := h.current()
	if r == nil {
		writeError(w, http.StatusServiceUnavailable, "starting", "the relay is still loading its configuration")
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx, cancel := context.WithTimeout(req.Context(), h.opt.ReloadTimeout)
	defer cancel()
	start := time.Now()
	if err := h.opt.Reload(ctx); err != nil {
		h.opt.Logger.Error("reload failed; the previous configuration stays in effect", "via", "admin", "err", err)
		status, code := http.StatusUnprocessableEntity, "reload_failed"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			status, code = http.StatusGatewayTimeout, "timeout"
		}
		writeError(w, status, code, err.Error())
		return
	}
	h.opt.Logger.Info("reloaded", "via", "admin", "took", time.Since(start).Round(time.Millisecond))
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "routes": r.Routes(), "plugins": r.Plugins()})
}

// Error is the admin API's one error shape.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]Error{"error": {Status: status, Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // route names hold "->"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"status":500,"code":"internal","message":"cannot encode the answer"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
