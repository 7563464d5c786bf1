package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/inbound"
	"github.com/imrelay/imrelay/proxy/metrics"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// table is one generation of the relay's configuration, compiled: the
// routes, the plugins and providers they use, and the per-request limits.
// It is immutable once built. The server holds the current table in an
// atomic pointer; a reload builds a new table beside the old one, swaps
// the pointer, waits for the requests still on the old table, and closes
// what only the old table used.
type table struct {
	cfg       *config.Config
	router    router
	plugins   map[string]*loadedPlugin
	providers map[string]*provider

	requestTimeout time.Duration
	maxHeader      int
	maxMessages    int
	maxConcurrent  int64
	fanout         int

	// refs counts the requests using the table, plus one for the server
	// while the table is current. drained is closed when it reaches zero.
	refs      atomic.Int64
	drained   chan struct{}
	drainOnce sync.Once
	loadedAt  time.Time
	// ctx lives as long as the table: the cohort watchers stop with it.
	ctx  context.Context
	stop context.CancelFunc
	// retired is set when a reload replaces the table: its background
	// jobs still queued are dropped (and counted) rather than run under a
	// configuration no longer in effect.
	retired atomic.Bool
}

// loadedPlugin is a plugin and what it was loaded from, so a reload can
// tell whether it changed.
type loadedPlugin struct {
	p      *wasmhost.Plugin
	hash   string // sha256 of the module bytes
	source string // "builtin" or the file's path
	kind   abi.Kind
	want   wasmhost.Options // as configured, to compare on reload
	opts   wasmhost.Options // with the host's defaults filled in
	faults *metrics.Faults
}

// provider is a configured provider with its token broker and metrics.
type provider struct {
	cfg    config.Provider
	up     *upstream.Provider
	broker *upstream.Broker
	m      *metrics.Provider
}

// acquire returns the current table with a reference the caller gives
// back with release. The reference keeps the table's plugins open.
func (s *Server) acquire() *table {
	for {
		t := s.table.Load()
		t.refs.Add(1)
		if s.table.Load() == t {
			return t
		}
		t.release() // swapped meanwhile: use the new one
	}
}

func (t *table) release() {
	if t.refs.Add(-1) == 0 {
		t.drainOnce.Do(func() { close(t.drained) })
	}
}

// build compiles cfg into a table. Plugins, providers and client verifiers
// that are unchanged from old (nil at start) are shared with it, so a
// reload keeps warm instances, provider connections, cached tokens and the
// keys of tokens already issued to clients.
func (s *Server) build(ctx context.Context, cfg *config.Config, old *table) (_ *table, err error) {
	t := &table{
		cfg:            cfg,
		plugins:        map[string]*loadedPlugin{},
		providers:      map[string]*provider{},
		requestTimeout: cfg.Limits.RequestTimeout,
		maxHeader:      int(cfg.Limits.MaxHeader),
		maxMessages:    cfg.Limits.MaxMessages,
		maxConcurrent:  int64(cfg.Limits.MaxConcurrent),
		fanout:         max(1, cfg.Limits.Fanout),
		drained:        make(chan struct{}),
		loadedAt:       time.Now(),
	}
	t.refs.Store(1)
	t.ctx, t.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			t.closeExcept(ctx, old)
		}
	}()
	for _, name := range cfg.ProviderNames() {
		pc := cfg.Providers[name]
		if old != nil {
			if op := old.providers[name]; op != nil && reflect.DeepEqual(op.cfg, *pc) {
				t.providers[name] = op
				continue
			}
		}
		b := upstream.NewBroker(upstream.BrokerConfig{Now: s.now})
		up, err := upstream.New(pc, upstream.Options{Broker: b, Now: s.now, Dial: s.dial})
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		t.providers[name] = &provider{cfg: *pc, up: up, broker: b, m: s.metrics.Provider(name)}
	}
	if err := s.loadPlugins(ctx, t, old); err != nil {
		return nil, err
	}
	for i := range cfg.Routes {
		r, err := s.compileRoute(t, &cfg.Routes[i], old)
		if err != nil {
			return nil, fmt.Errorf("proxy: routes[%d] (%s): %w", i, cfg.Routes[i].Name, err)
		}
		t.router.routes = append(t.router.routes, r)
	}
	s.startWorkers(t)
	return t, nil
}

// closeExcept closes the plugins and providers of t that keep is not
// using (all of them when keep is nil).
func (t *table) closeExcept(ctx context.Context, keep *table) error {
	t.stop()
	t.forgetMedia()
	var errs []error
	for name, lp := range t.plugins {
		if keep != nil && keep.plugins[name] == lp {
			continue
		}
		if err := lp.p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for name, p := range t.providers {
		if keep != nil && keep.providers[name] == p {
			continue
		}
		p.up.Close()
	}
	return errors.Join(errs...)
}

// readPlugin returns the bytes of a plugin and where they came from: the
// file pinned in plugins.files, or the built-in plugin.
func (s *Server) readPlugin(cfg *config.Config, name string) (wasm []byte, source string, err error) {
	if f, ok := cfg.Plugins.Files[name]; ok {
		b, err := readPinned(f.Path, f.SHA256)
		if err != nil {
			return nil, "", fmt.Errorf("proxy: plugin %s: %w", name, err)
		}
		return b, f.Path, nil
	}
	if s.builtin == nil {
		return nil, "", fmt.Errorf("proxy: plugin %s: no built-in plugins and no plugins.files entry", name)
	}
	b, err := s.builtin(name)
	if err != nil {
		return nil, "", fmt.Errorf("proxy: plugin %s: %w", name, err)
	}
	return b, "builtin", nil
}

// readFile reads an external plugin (a variable for tests).
var readFile = os.ReadFile

// ErrPluginHash is returned when an external plugin's bytes do not have
// the sha256 its configuration pins.
var ErrPluginHash = errors.New("proxy: plugin file does not match its pinned sha256")

// Reload replaces the configuration in effect with cfg (validated by
// package config). The new plugins are loaded beside the old ones and the
// routes switch atomically: a request is served wholly by the old
// configuration or wholly by the new one. Reload then waits, until ctx is
// done, for the requests still on the old configuration, and closes the
// plugins and providers only it used. On error the old configuration
// stays in effect.
//
// Listeners, the admin listener, limits.max_body and the plugin host's
// cache_dir and memory_limit are fixed at start: a configuration that
// changes them is refused.
func (s *Server) Reload(ctx context.Context, cfg *config.Config) error {
	return s.ReloadFrom(ctx, func() (*config.Config, error) { return cfg, nil })
}

// ReloadFrom is Reload with the configuration read by load (a file read
// again); a load that fails counts as a failed reload.
func (s *Server) ReloadFrom(ctx context.Context, load func() (*config.Config, error)) (err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.closing.Load() {
		return errors.New("proxy: reload: the relay is closing")
	}
	defer func() { s.metrics.Reloaded(err == nil, time.Now()) }()
	cfg, err := load()
	if err != nil {
		return err
	}
	old := s.table.Load()
	if err := fixedAtStart(old.cfg, cfg); err != nil {
		return err
	}
	t, err := s.build(ctx, cfg, old)
	if err != nil {
		return err
	}
	s.table.Store(t)
	old.retired.Store(true)
	for _, r := range old.router.routes {
		if t.route(r.name) == nil {
			s.metrics.ForgetRoute(r.name)
		}
	}
	for name := range old.providers {
		if t.providers[name] == nil {
			s.metrics.ForgetProvider(name)
		}
	}
	old.release()
	var drainErr error
	select {
	case <-old.drained:
	case <-ctx.Done():
		drainErr = fmt.Errorf("proxy: reload: requests still on the old configuration: %w", ctx.Err())
	}
	// Plugin.Close waits for leased instances too, within the same ctx.
	if err := old.closeExcept(ctx, t); err != nil {
		drainErr = errors.Join(drainErr, err)
	}
	if drainErr != nil {
		// The new configuration is in effect; only the old one's cleanup
		// was cut short. Say so without failing the reload.
		s.logger.Warn("reload: the old configuration did not drain in time", "err", drainErr)
	}
	return nil
}

// fixedAtStart refuses a reload that changes what only a restart can.
func fixedAtStart(old, cfg *config.Config) error {
	type fixed struct {
		key      string
		old, new any
	}
	for _, f := range []fixed{
		{"listeners", old.Listeners, cfg.Listeners},
		{"admin", old.Admin, cfg.Admin},
		{"limits.max_body", old.Limits.MaxBody, cfg.Limits.MaxBody},
		{"plugins.cache_dir", old.Plugins.CacheDir, cfg.Plugins.CacheDir},
		{"plugins.memory_limit", old.Plugins.MemoryLimit, cfg.Plugins.MemoryLimit},
	} {
		if !reflect.DeepEqual(f.old, f.new) {
			return &config.Error{File: cfg.File, Key: f.key, Problem: "changed, and a reload cannot change it", Fix: "restart imrelay to apply it, or restore the old value"}
		}
	}
	return nil
}

// route returns the route called name, or nil.
func (t *table) route(name string) *route {
	for _, r := range t.router.routes {
		if r.name == name {
			return r
		}
	}
	return nil
}

// readPinned reads a file and checks it against a pinned sha256.
func readPinned(path, want string) ([]byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); !equalFoldASCII(got, want) {
		return nil, fmt.Errorf("%w: %s has sha256 %s, the configuration pins %s (fix: check the file, or pin its new hash in plugins.files)", ErrPluginHash, path, got, want)
	}
	return b, nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// RouteInfo describes a route in effect (the admin API lists them).
type RouteInfo struct {
	Name       string   `json:"name"`
	Dialect    string   `json:"dialect"`
	Method     string   `json:"method"`
	Host       string   `json:"host,omitempty"`
	Paths      []string `json:"paths"`
	Target     string   `json:"target"`
	TargetAPI  string   `json:"target_dialect"`
	Codec      string   `json:"codec"`
	TargetCode string   `json:"target_codec"`
	Middleware []string `json:"middleware"`
	Policy     string   `json:"policy"`
	Auth       bool     `json:"auth"`
	// Passthrough: calls are forwarded as they are, not translated.
	Passthrough bool `json:"passthrough,omitempty"`
	// Migration controls (docs/migration.md), when the route has them.
	Split  map[string]int `json:"split,omitempty"`
	Cohort string         `json:"cohort,omitempty"` // the cohort's target
	Mirror string         `json:"mirror,omitempty"`
	Shadow []string       `json:"shadow,omitempty"`
}

// PluginInfo describes a loaded plugin (the admin API lists them).
type PluginInfo struct {
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	SHA256     string         `json:"sha256"`
	Source     string         `json:"source"`
	ABIVersion int            `json:"abi_version"`
	PoolSize   int            `json:"pool_size"`
	Stats      wasmhost.Stats `json:"stats"`
}

// Routes lists the routes in effect, in match order.
func (s *Server) Routes() []RouteInfo {
	t := s.table.Load()
	var out []RouteInfo
	for i := range t.cfg.Routes {
		rc := &t.cfg.Routes[i]
		p := t.cfg.Providers[rc.Target]
		out = append(out, RouteInfo{
			Name: rc.Name, Dialect: rc.Dialect, Method: rc.Method, Host: rc.Host, Paths: rc.Paths,
			Target: rc.Target, TargetAPI: p.Dialect, Codec: rc.Codec, TargetCode: p.Codec,
			Middleware: append([]string{}, rc.Middleware...), Policy: rc.Policy, Auth: !rc.Auth.Disabled,
			Split: rc.Migrate.Split, Mirror: rc.Migrate.Mirror, Shadow: rc.Migrate.Shadow,
			Passthrough: rc.Passthrough,
		})
		if c := rc.Migrate.Cohort; c != nil {
			out[len(out)-1].Cohort = c.Target
		}
	}
	return out
}

// Plugins lists the plugins in effect, by name.
func (s *Server) Plugins() []PluginInfo {
	t := s.table.Load()
	var out []PluginInfo
	for _, name := range sortedNames(t.plugins) {
		lp := t.plugins[name]
		out = append(out, PluginInfo{
			Name: name, Kind: lp.kind.String(), SHA256: lp.hash, Source: lp.source,
			ABIVersion: int(abi.Version), PoolSize: lp.opts.MaxInstances, Stats: lp.p.Stats(),
		})
	}
	return out
}

// Config returns the configuration in effect. Do not modify it.
func (s *Server) Config() *config.Config { return s.table.Load().cfg }

// Ready reports whether the relay can serve: every plugin compiled, every
// provider configured, and no shutdown under way.
func (s *Server) Ready() error {
	if s.shutting.Load() {
		return errors.New("shutting down")
	}
	t := s.table.Load()
	if t == nil {
		return errors.New("starting")
	}
	for _, r := range t.router.routes {
		for _, l := range r.legs {
			if l.provider == nil {
				return fmt.Errorf("route %s: provider %s not configured", r.name, l.name)
			}
		}
		for _, p := range r.plugins {
			if p == nil {
				return fmt.Errorf("route %s: a plugin is not loaded", r.name)
			}
		}
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

// pluginSamples and brokerSamples feed the scrape-time collectors.
func (s *Server) pluginSamples() []metrics.PluginSample {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	var out []metrics.PluginSample
	for _, name := range sortedNames(t.plugins) {
		lp := t.plugins[name]
		st := lp.p.Stats()
		out = append(out, metrics.PluginSample{
			Name: name, Hash: lp.hash, PoolSize: lp.opts.MaxInstances,
			Live: st.Live, Idle: st.Idle, InUse: st.InUse, Memory: st.Memory,
			Created: st.Created, Faults: st.Faults, Recycled: st.Recycled, Backoffs: st.Backoffs,
		})
	}
	return out
}

func (s *Server) brokerSamples() []metrics.BrokerSample {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	var out []metrics.BrokerSample
	for _, name := range sortedNames(t.providers) {
		st := t.providers[name].broker.Stats()
		out = append(out, metrics.BrokerSample{Provider: name, Fetches: st.Fetches, Failures: st.Failures, Background: st.Background, Drops: st.Drops})
	}
	return out
}

// verifierFor returns the verifier of a route: the old table's when the
// route's name, dialect and auth are unchanged, so the tokens it issued
// stay valid across a reload.
func (s *Server) verifierFor(rc *config.Route, old *table) (*inbound.Verifier, error) {
	if old != nil {
		for i := range old.cfg.Routes {
			oc := &old.cfg.Routes[i]
			if oc.Name == rc.Name && oc.Dialect == rc.Dialect && reflect.DeepEqual(oc.Auth, rc.Auth) {
				if r := old.route(rc.Name); r != nil {
					return r.verifier, nil
				}
			}
		}
	}
	return inbound.New(rc.Dialect, &rc.Auth, inbound.Options{Scope: rc.Name, Now: s.now})
}
