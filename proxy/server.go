// Package proxy is the relay: a fasthttp server whose routes take a
// client's call in its own dialect, check the client, translate the call
// with the route's WebAssembly plugins, send the provider requests with the
// provider's credentials, and answer in the client's dialect.
//
// One request, start to end (see pipeline.go):
//
//  1. route: method + host + path → a route (route.go); the Easemob and
//     Youdu token endpoints are answered by package inbound;
//  2. inbound auth (package inbound) — a failure becomes a canonical error;
//  3. decode_request with the inbound codec → canonical batch;
//  4. transform with each middleware;
//  5. encode_request with the target codec → provider requests;
//  6. send each (package upstream), at most limits.fanout at once;
//  7. decode_response with the target codec → canonical results;
//  8. encode_response with the inbound codec → the client's answer.
//
// A pass-through route (NetEase to NetEase, passthrough.go) stops after
// step 2: the verified call is sent to its provider as it is, re-signed,
// and the provider's answer is the client's; no plugin runs.
//
// A request pins one instance of each plugin it uses for its translation
// hooks and gives them back while its provider requests are in flight:
// plugins keep no state between hooks, and a pool sized for the CPUs must
// not be exhausted by requests that only wait for a slow vendor.
//
// Every host-side failure (auth, limits, timeouts, plugin faults) becomes a
// results document with a top-level error, which the inbound codec renders
// like any other answer; only when that codec itself cannot run (no
// instance free, a crash) does the relay write the dialect's error shape
// natively (fallback.go).
package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/inbound"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/migrate"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Options are what a [Server] takes from outside its configuration.
type Options struct {
	// Plugin returns the bytes of a built-in plugin by name (the binary's
	// embedded plugins). A plugin listed in the configuration's
	// plugins.files is read from disk instead.
	Plugin func(name string) ([]byte, error)
	// Logger receives the relay's and the plugins' log lines; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock of inbound auth and NetEase signatures; nil means
	// time.Now (tests inject one).
	Now func() time.Time
	// Dial replaces the TCP dialer of provider connections (tests).
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
}

// Server is a configured relay.
type Server struct {
	cfg     *config.Config // the configuration it started with
	logger  *slog.Logger
	host    *wasmhost.Host
	metrics *metrics.Set
	builtin func(name string) ([]byte, error)
	now     func() time.Time
	dial    func(addr string, timeout time.Duration) (net.Conn, error)

	// table is the configuration in effect, compiled (table.go); a
	// reload swaps it. reloadMu serialises reloads.
	table    atomic.Pointer[table]
	reloadMu sync.Mutex
	shutting atomic.Bool
	closing  atomic.Bool

	// migrate counts what the migration controls see; it outlives
	// reloads.
	migrate *migrate.Registry

	srv      *fasthttp.Server
	pool     sync.Pool // *exchange
	inflight atomic.Int64
	ids      requestIDs

	mu        sync.Mutex
	listeners []net.Listener
	served    []net.Listener // listeners given to ServeListener
}

// New builds the relay described by cfg (validated by package config):
// it starts the plugin host, loads every plugin the routes use (in
// parallel), and prepares providers, verifiers and routes. Nothing listens
// until [Server.Listen].
func New(ctx context.Context, cfg *config.Config, opt Options) (_ *Server, err error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		logger:  opt.Logger,
		builtin: opt.Plugin,
		now:     opt.Now,
		dial:    opt.Dial,
	}
	s.ids.init()
	s.metrics = metrics.New(metrics.Sources{
		Plugins:  s.pluginSamples,
		Brokers:  s.brokerSamples,
		InFlight: func() float64 { return float64(s.inflight.Load()) },
	})
	s.migrate = migrate.NewRegistry()
	s.metrics.Registry().MustRegister(s.migrate)
	s.pool.New = func() any { return new(exchange) }
	s.host, err = wasmhost.New(wasmhost.Config{CacheDir: cfg.Plugins.CacheDir, MemoryLimit: uint64(cfg.Plugins.MemoryLimit), Logger: opt.Logger})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	defer func() {
		if err != nil {
			_ = s.Close(context.Background())
		}
	}()
	t, err := s.build(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	s.table.Store(t)
	s.metrics.Loaded(t.loadedAt)
	s.srv = &fasthttp.Server{
		Handler:                      s.handle,
		ErrorHandler:                 s.handleError,
		Name:                         "imrelay",
		MaxRequestBodySize:           int(cfg.Limits.MaxBody),
		ReadBufferSize:               max(4096, 2*t.maxHeader),
		ReadTimeout:                  t.requestTimeout,
		WriteTimeout:                 t.requestTimeout,
		IdleTimeout:                  2 * time.Minute,
		Concurrency:                  int(2*t.maxConcurrent) + 64,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{opt.Logger},
	}
	return s, nil
}

// pluginUse is how the routes use one plugin.
type pluginUse struct {
	kind abi.Kind
	who  string // the first key that asked for it, for errors
}

// loadPlugins loads every plugin the routes of t name, once each, in
// parallel. A plugin old already runs from the same bytes, with the same
// kind and pool settings, is shared instead of loaded again.
func (s *Server) loadPlugins(ctx context.Context, t *table, old *table) error {
	cfg := t.cfg
	uses := map[string]pluginUse{}
	var order []string
	need := func(name string, kind abi.Kind, who string) error {
		if u, ok := uses[name]; ok {
			if u.kind != kind {
				return fmt.Errorf("proxy: %s uses plugin %q as a %s, but %s uses it as a %s", who, name, kind, u.who, u.kind)
			}
			return nil
		}
		uses[name] = pluginUse{kind, who}
		order = append(order, name)
		return nil
	}
	for i, r := range cfg.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if err := need(r.Codec, abi.KindCodec, key); err != nil {
			return err
		}
		for _, p := range append(append(r.Legs(), r.Migrate.Shadow...), r.Migrate.Mirror) {
			if p == "" {
				continue
			}
			if err := need(cfg.Providers[p].Codec, abi.KindCodec, "providers."+p); err != nil {
				return err
			}
		}
		for j, m := range r.Middleware {
			if err := need(m, abi.KindMiddleware, fmt.Sprintf("%s.middleware[%d]", key, j)); err != nil {
				return err
			}
		}
	}
	type loaded struct {
		name string
		lp   *loadedPlugin
		err  error
	}
	ch := make(chan loaded, len(order))
	for _, name := range order {
		go func() {
			lp, err := s.loadPlugin(ctx, cfg, name, uses[name].kind, old)
			ch <- loaded{name, lp, err}
		}()
	}
	var errs []error
	for range order {
		l := <-ch
		if l.err != nil {
			errs = append(errs, l.err)
			continue
		}
		t.plugins[l.name] = l.lp
	}
	return errors.Join(errs...)
}

func (s *Server) loadPlugin(ctx context.Context, cfg *config.Config, name string, kind abi.Kind, old *table) (*loadedPlugin, error) {
	wasm, source, err := s.readPlugin(cfg, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	opts := wasmhost.Options{
		Kind:          kind,
		MaxInstances:  cfg.Plugins.PoolSize,
		MaxCalls:      cfg.Plugins.MaxCalls,
		RecycleMemory: uint64(cfg.Plugins.RecycleMemory),
		Timeout:       cfg.Plugins.CallTimeout,
		Config:        cfg.Plugins.ConfigJSON[name],
	}
	if old != nil {
		if lp := old.plugins[name]; lp != nil && lp.hash == hash && lp.kind == kind && reflect.DeepEqual(lp.want, opts) {
			return lp, nil
		}
	}
	p, err := s.host.Load(ctx, name, wasm, opts)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return &loadedPlugin{p: p, hash: hash, source: source, kind: kind, want: opts, opts: p.Options(), faults: s.metrics.PluginFaults(name)}, nil
}

// compileRoute resolves one configured route of t.
func (s *Server) compileRoute(t *table, rc *config.Route, old *table) (*route, error) {
	prov := t.cfg.Providers[rc.Target]
	v, err := s.verifierFor(rc, old)
	if err != nil {
		return nil, err
	}
	r := &route{
		name:     rc.Name,
		dialect:  rc.Dialect,
		dialects: rc.Dialect + "->" + prov.Dialect,
		method:   []byte(rc.Method),
		host:     []byte(strings.ToLower(rc.Host)),
		verifier: v,
		metrics:  s.metrics.Route(rc.Name, rc.Dialect, prov.Dialect),
	}
	if tp := v.TokenPath(); tp != "" {
		r.tokenPath = []byte(tp)
	}
	for _, p := range rc.Paths {
		r.patterns = append(r.patterns, compilePattern(p))
	}
	index := func(name string) int {
		lp := t.plugins[name]
		for i, q := range r.plugins {
			if q == lp.p {
				return i
			}
		}
		r.plugins = append(r.plugins, lp.p)
		r.faults = append(r.faults, lp.faults)
		return len(r.plugins) - 1
	}
	r.inbound = index(rc.Codec)
	for _, m := range rc.Middleware {
		r.middleware = append(r.middleware, index(m))
	}
	policy := map[string]any{"policy": rc.Policy}
	if r.inOpts, err = buildOptions(codecOptions(rc.Dialect, &rc.Auth.Credentials), rc.Options["inbound"], policy); err != nil {
		return nil, err
	}
	for _, m := range rc.Middleware {
		o, err := buildOptions(rc.Options[m])
		if err != nil {
			return nil, err
		}
		r.mwOpts = append(r.mwOpts, o)
	}
	legFor := func(name string) (*leg, error) {
		pc, pr := t.cfg.Providers[name], t.providers[name]
		l := &leg{name: name, dialects: rc.Dialect + "->" + pc.Dialect, target: index(pc.Codec), provider: pr.up, prov: pr}
		var err error
		l.opts, err = targetOptions(pc, rc, rc.Policy)
		return l, err
	}
	if err := s.compileControls(t, rc, r, legFor); err != nil {
		return nil, err
	}
	if err := compilePassthrough(t, rc, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Handler returns the relay's request handler (tests serve it in memory).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	t := s.acquire()
	defer t.release()
	r, token := t.router.match(ctx)
	if r == nil {
		if !s.serveHealth(ctx) {
			s.notFound(ctx)
		}
		return
	}
	if token {
		r.verifier.ServeToken(ctx)
		return
	}
	start := time.Now()
	if s.inflight.Add(1) > t.maxConcurrent {
		s.inflight.Add(-1)
		writeFallback(ctx, r.dialect, errBusy, start)
		r.metrics.Done(metrics.CodeOutcome(string(abi.CodeBusy)), time.Since(start), 0)
		return
	}
	x := s.pool.Get().(*exchange)
	x.start(s, t, r, ctx)
	x.began = start
	x.run()
	x.observe()
	x.finish()
	s.pool.Put(x)
	s.inflight.Add(-1)
}

// Health endpoints, answered on the relay's own listeners as well as on
// the admin listener, for load balancers that probe the traffic port.
var (
	pathHealthz = []byte("/healthz")
	pathReadyz  = []byte("/readyz")
)

// serveHealth answers GET /healthz and /readyz when no route claims them.
func (s *Server) serveHealth(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() && !ctx.IsHead() {
		return false
	}
	path := rawPath(ctx)
	switch {
	case bytes.Equal(path, pathHealthz):
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok\n")
	case bytes.Equal(path, pathReadyz):
		ctx.SetContentType("text/plain; charset=utf-8")
		if err := s.Ready(); err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready: " + err.Error() + "\n")
			return true
		}
		ctx.SetBodyString("ready\n")
	default:
		return false
	}
	return true
}

// handleError answers a request fasthttp could not read. A body over the
// limit is answered in the route's dialect; anything else gets a plain 400.
func (s *Server) handleError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		t := s.acquire()
		defer t.release()
		if r, _ := t.router.match(ctx); r != nil {
			x := s.pool.Get().(*exchange)
			x.start(s, t, r, ctx)
			x.began = time.Now()
			x.fail(errBodyTooLarge)
			x.observe()
			x.finish()
			s.pool.Put(x)
			return
		}
		ctx.Error("request body too large", fasthttp.StatusRequestEntityTooLarge)
		return
	}
	if strings.Contains(err.Error(), "small read buffer") {
		ctx.Error("request headers too large", fasthttp.StatusRequestHeaderFieldsTooLarge)
		return
	}
	ctx.Error("bad request", fasthttp.StatusBadRequest)
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	ge := abi.GuestError{Code: abi.CodeNotFound, Message: "no route for " + string(ctx.Method()) + " " + string(rawPath(ctx))}
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetContentType("application/json")
	ctx.SetBody(ge.AppendJSON(nil))
}

// Listen opens every configured listener and returns their addresses (a
// port 0 is resolved). Serve then serves them.
func (s *Server) Listen() ([]net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var addrs []net.Addr
	for _, l := range s.cfg.Listeners {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, o := range s.listeners {
				_ = o.Close()
			}
			s.listeners = nil
			return nil, fmt.Errorf("proxy: listen %s: %w", l.Addr, err)
		}
		s.listeners = append(s.listeners, ln)
		addrs = append(addrs, ln.Addr())
	}
	return addrs, nil
}

// Serve serves the listeners opened by Listen until Shutdown, and returns
// the first error of any of them (nil after a Shutdown).
func (s *Server) Serve() error {
	s.mu.Lock()
	lns := s.listeners
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("proxy: Serve before Listen")
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- s.srv.Serve(ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil {
			first = fmt.Errorf("proxy: serve: %w", err)
		}
	}
	return first
}

// ServeListener serves one listener (tests use in-memory listeners).
func (s *Server) ServeListener(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		// Shutdown already closed the listeners it knew of: this one
		// would be served forever.
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.served = append(s.served, ln)
	s.mu.Unlock()
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections and waits for the requests in
// flight until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	err := s.srv.ShutdownWithContext(ctx)
	// fasthttp closes only the listeners whose Serve has already begun: a
	// Shutdown that wins the race against a starting Serve would leave that
	// one serving forever. Closing every listener makes its Accept fail, so
	// its Serve returns; closing one fasthttp already closed is harmless.
	s.mu.Lock()
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	for _, ln := range s.served {
		_ = ln.Close()
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// Close frees the plugins, the plugin host and the provider connections,
// after the background jobs still queued (mirror, shadow) are done or ctx
// is. Call it after Shutdown.
func (s *Server) Close(ctx context.Context) error {
	s.reloadMu.Lock() // no reload swaps the table under Close
	defer s.reloadMu.Unlock()
	var errs []error
	if t := s.table.Load(); t != nil {
		if s.closing.CompareAndSwap(false, true) {
			t.release()
		}
		if err := waitDrained(ctx, t); err != nil {
			errs = append(errs, err)
		}
		if err := t.closeExcept(ctx, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if s.host != nil {
		if err := s.host.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Broker returns the token broker of the named provider in effect, or nil
// (tests read its counters).
func (s *Server) Broker(provider string) *upstream.Broker {
	if p := s.table.Load().providers[provider]; p != nil {
		return p.broker
	}
	return nil
}

// Plugin returns a loaded plugin in effect by name, or nil.
func (s *Server) Plugin(name string) *wasmhost.Plugin {
	if lp := s.table.Load().plugins[name]; lp != nil {
		return lp.p
	}
	return nil
}

// Migration reports what the migration controls of every route have seen
// since the relay started (the admin API serves it).
func (s *Server) Migration() migrate.Report { return s.migrate.Snapshot() }

// Metrics returns the relay's metrics (the admin listener serves them).
func (s *Server) Metrics() *metrics.Set { return s.metrics }

// Issuer returns the token issuer of the named route, or nil: the embedded
// default uses it to print ready-made tokens.
func (s *Server) Issuer(route string) *inbound.Issuer {
	if r := s.table.Load().route(route); r != nil {
		return r.verifier.Issuer()
	}
	return nil
}

// fasthttpLogger sends fasthttp's own messages to slog at debug level:
// connection-level noise (clients hanging up) is not worth more.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
