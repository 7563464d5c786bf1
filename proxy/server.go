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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/inbound"
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
	cfg    *config.Config
	logger *slog.Logger
	host   *wasmhost.Host
	broker *upstream.Broker

	plugins   map[string]*wasmhost.Plugin
	providers map[string]*upstream.Provider
	router    router
	srv       *fasthttp.Server
	pool      sync.Pool // *exchange

	requestTimeout time.Duration
	maxHeader      int
	maxMessages    int
	maxConcurrent  int64
	fanout         int
	inflight       atomic.Int64

	mu        sync.Mutex
	listeners []net.Listener
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
		cfg:            cfg,
		logger:         opt.Logger,
		plugins:        map[string]*wasmhost.Plugin{},
		providers:      map[string]*upstream.Provider{},
		requestTimeout: cfg.Limits.RequestTimeout,
		maxHeader:      int(cfg.Limits.MaxHeader),
		maxMessages:    cfg.Limits.MaxMessages,
		maxConcurrent:  int64(cfg.Limits.MaxConcurrent),
		fanout:         max(1, cfg.Limits.Fanout),
	}
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
	s.broker = upstream.NewBroker(upstream.BrokerConfig{Now: opt.Now})
	for _, name := range cfg.ProviderNames() {
		p, err := upstream.New(cfg.Providers[name], upstream.Options{Broker: s.broker, Now: opt.Now, Dial: opt.Dial})
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		s.providers[name] = p
	}
	if err := s.loadPlugins(ctx, opt); err != nil {
		return nil, err
	}
	for i := range cfg.Routes {
		r, err := s.compileRoute(&cfg.Routes[i], opt)
		if err != nil {
			return nil, fmt.Errorf("proxy: routes[%d] (%s): %w", i, cfg.Routes[i].Name, err)
		}
		s.router.routes = append(s.router.routes, r)
	}
	s.srv = &fasthttp.Server{
		Handler:                      s.handle,
		ErrorHandler:                 s.handleError,
		Name:                         "imrelay",
		MaxRequestBodySize:           int(cfg.Limits.MaxBody),
		ReadBufferSize:               max(4096, 2*s.maxHeader),
		ReadTimeout:                  s.requestTimeout,
		WriteTimeout:                 s.requestTimeout,
		IdleTimeout:                  2 * time.Minute,
		Concurrency:                  int(2*s.maxConcurrent) + 64,
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

// loadPlugins loads every plugin the routes name, once each, in parallel.
func (s *Server) loadPlugins(ctx context.Context, opt Options) error {
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
	for i, r := range s.cfg.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if err := need(r.Codec, abi.KindCodec, key); err != nil {
			return err
		}
		if err := need(s.cfg.Providers[r.Target].Codec, abi.KindCodec, "providers."+r.Target); err != nil {
			return err
		}
		for j, m := range r.Middleware {
			if err := need(m, abi.KindMiddleware, fmt.Sprintf("%s.middleware[%d]", key, j)); err != nil {
				return err
			}
		}
	}
	type loaded struct {
		name string
		p    *wasmhost.Plugin
		err  error
	}
	ch := make(chan loaded, len(order))
	for _, name := range order {
		go func() {
			p, err := s.loadPlugin(ctx, name, uses[name].kind, opt)
			ch <- loaded{name, p, err}
		}()
	}
	var errs []error
	for range order {
		l := <-ch
		if l.err != nil {
			errs = append(errs, l.err)
			continue
		}
		s.plugins[l.name] = l.p
	}
	return errors.Join(errs...)
}

func (s *Server) loadPlugin(ctx context.Context, name string, kind abi.Kind, opt Options) (*wasmhost.Plugin, error) {
	var wasm []byte
	if f, ok := s.cfg.Plugins.Files[name]; ok {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, fmt.Errorf("proxy: plugin %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, f.SHA256) {
			return nil, fmt.Errorf("proxy: plugin %s: %s has sha256 %s, the configuration pins %s", name, f.Path, got, f.SHA256)
		}
		wasm = b
	} else {
		if opt.Plugin == nil {
			return nil, fmt.Errorf("proxy: plugin %s: no built-in plugins and no plugins.files entry", name)
		}
		b, err := opt.Plugin(name)
		if err != nil {
			return nil, fmt.Errorf("proxy: plugin %s: %w", name, err)
		}
		wasm = b
	}
	p, err := s.host.Load(ctx, name, wasm, wasmhost.Options{
		Kind:          kind,
		MaxInstances:  s.cfg.Plugins.PoolSize,
		MaxCalls:      s.cfg.Plugins.MaxCalls,
		RecycleMemory: uint64(s.cfg.Plugins.RecycleMemory),
		Timeout:       s.cfg.Plugins.CallTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return p, nil
}

// compileRoute resolves one configured route.
func (s *Server) compileRoute(rc *config.Route, opt Options) (*route, error) {
	prov := s.cfg.Providers[rc.Target]
	v, err := inbound.New(rc.Dialect, &rc.Auth, inbound.Options{Scope: rc.Name, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	r := &route{
		name:     rc.Name,
		dialect:  rc.Dialect,
		method:   []byte(rc.Method),
		host:     []byte(strings.ToLower(rc.Host)),
		verifier: v,
		provider: s.providers[rc.Target],
	}
	if tp := v.TokenPath(); tp != "" {
		r.tokenPath = []byte(tp)
	}
	for _, p := range rc.Paths {
		r.patterns = append(r.patterns, compilePattern(p))
	}
	index := func(name string) int {
		p := s.plugins[name]
		for i, q := range r.plugins {
			if q == p {
				return i
			}
		}
		r.plugins = append(r.plugins, p)
		return len(r.plugins) - 1
	}
	r.inbound = index(rc.Codec)
	for _, m := range rc.Middleware {
		r.middleware = append(r.middleware, index(m))
	}
	r.target = index(prov.Codec)
	policy := map[string]any{"policy": rc.Policy}
	if r.inOpts, err = buildOptions(codecOptions(rc.Dialect, &rc.Auth.Credentials), rc.Options["inbound"], policy); err != nil {
		return nil, err
	}
	if r.targetOpts, err = buildOptions(prov.Options, codecOptions(prov.Dialect, &prov.Credentials), rc.Options["target"], policy); err != nil {
		return nil, err
	}
	for _, m := range rc.Middleware {
		o, err := buildOptions(rc.Options[m])
		if err != nil {
			return nil, err
		}
		r.mwOpts = append(r.mwOpts, o)
	}
	return r, nil
}

// Handler returns the relay's request handler (tests serve it in memory).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	r, token := s.router.match(ctx)
	if r == nil {
		s.notFound(ctx)
		return
	}
	if token {
		r.verifier.ServeToken(ctx)
		return
	}
	if s.inflight.Add(1) > s.maxConcurrent {
		s.inflight.Add(-1)
		writeFallback(ctx, r.dialect, errBusy, time.Now())
		return
	}
	x := s.pool.Get().(*exchange)
	x.start(s, r, ctx)
	x.run()
	x.finish()
	s.pool.Put(x)
	s.inflight.Add(-1)
}

// handleError answers a request fasthttp could not read. A body over the
// limit is answered in the route's dialect; anything else gets a plain 400.
func (s *Server) handleError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		if r, _ := s.router.match(ctx); r != nil {
			x := s.pool.Get().(*exchange)
			x.start(s, r, ctx)
			x.fail(errBodyTooLarge)
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
func (s *Server) ServeListener(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for the requests in
// flight until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// Close frees the plugins, the plugin host and the provider connections.
// Call it after Shutdown.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for _, p := range s.plugins {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range s.providers {
		p.Close()
	}
	if s.host != nil {
		if err := s.host.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Broker returns the token broker (tests read its counters).
func (s *Server) Broker() *upstream.Broker { return s.broker }

// Plugin returns a loaded plugin by name, or nil.
func (s *Server) Plugin(name string) *wasmhost.Plugin { return s.plugins[name] }

// Issuer returns the token issuer of the named route, or nil: the embedded
// default uses it to print ready-made tokens.
func (s *Server) Issuer(route string) *inbound.Issuer {
	for _, r := range s.router.routes {
		if r.name == route {
			return r.verifier.Issuer()
		}
	}
	return nil
}

// fasthttpLogger sends fasthttp's own messages to slog at debug level:
// connection-level noise (clients hanging up) is not worth more.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
