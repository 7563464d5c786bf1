package wasmhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/imrelay/imrelay/sdk/abi"
)

// DefaultMemoryLimit is the cap on one instance's linear memory when
// Config.MemoryLimit is zero. A Go guest starts at about 2 MiB and, with the
// SDK's Gosched, stays under 16 MiB; 128 MiB leaves room for a burst of
// large batches and still stops a runaway guest long before it hurts the
// relay. See RATIONALE.md.
const DefaultMemoryLimit = 128 << 20

// Config configures a Host.
type Config struct {
	// CacheDir keeps compiled modules on disk across restarts (a 3.6 MB Go
	// guest: ~1 s to compile cold, ~40 ms from the cache). Empty keeps them
	// in memory only; DefaultCacheDir is the usual choice.
	CacheDir string
	// MemoryLimit caps the linear memory of every instance, in bytes,
	// rounded down to whole 64 KiB pages. A guest that tries to grow past
	// it fails its call with ErrMemory. 0 means DefaultMemoryLimit.
	MemoryLimit uint64
	// Logger receives the plugins' log lines, tagged with plugin=<name>.
	// nil means slog.Default().
	Logger *slog.Logger

	now func() time.Time // tests replace the clock of the crash back-off
}

// DefaultCacheDir returns the user's cache folder for compiled modules
// ($XDG_CACHE_HOME/imrelay/wazero on Linux), or "" when there is none.
func DefaultCacheDir() string {
	if d := os.Getenv("IMRELAY_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "imrelay", "wazero")
}

// Host runs plugins. It owns the wazero runtimes, the compilation cache and
// the compiled modules; each Plugin it loads owns a bounded pool of
// instances. A Host is safe for concurrent use.
//
// Plugins loaded without a Timeout run in a runtime compiled without
// termination checks (fastest, for trusted first-party plugins); plugins
// with a Timeout run in a second runtime built with wazero's
// WithCloseOnContextDone, created on first use. Both share the compilation
// cache. RATIONALE.md has the measurements behind this split.
type Host struct {
	cfg    Config
	logger *slog.Logger
	cache  wazero.CompilationCache
	pages  uint32

	mu       sync.Mutex
	runtimes [2]wazero.Runtime // [0] unguarded, [1] guarded
	modules  map[moduleKey]*module
	plugins  map[*Plugin]struct{}
	closed   bool

	// instances maps a guest module to its Instance so host functions know
	// which plugin calls them.
	instances sync.Map // api.Module -> *Instance
}

// New returns a Host. Close it to free every runtime, module and instance.
func New(cfg Config) (*Host, error) {
	h := &Host{cfg: cfg, logger: cfg.Logger, modules: map[moduleKey]*module{}, plugins: map[*Plugin]struct{}{}}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.cfg.now == nil {
		h.cfg.now = time.Now
	}
	limit := cfg.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	if limit < 1<<16 || limit > 1<<32 {
		return nil, fmt.Errorf("wasmhost: memory limit %d bytes: want 64 KiB to 4 GiB", limit)
	}
	h.pages = uint32(limit >> 16)
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache %s: %w", cfg.CacheDir, err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	return h, nil
}

// MemoryLimit returns the cap on one instance's linear memory, in bytes.
func (h *Host) MemoryLimit() uint64 { return uint64(h.pages) << 16 }

// Close closes every plugin, every runtime and the compilation cache. It
// waits for instances being built in the background, not for leased ones:
// Close each Plugin first to drain its requests.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	plugins := make([]*Plugin, 0, len(h.plugins))
	for p := range h.plugins {
		plugins = append(plugins, p)
	}
	h.mu.Unlock()
	for _, p := range plugins {
		p.shut()
	}
	for _, p := range plugins {
		p.bg.Wait()
	}
	var errs []error
	for _, rt := range h.runtimes {
		if rt != nil {
			errs = append(errs, rt.Close(ctx))
		}
	}
	errs = append(errs, h.cache.Close(ctx))
	return errors.Join(errs...)
}

// runtime returns the runtime for guarded or unguarded plugins, creating it
// with WASI and the imrelay host module on first use. h.mu is held.
func (h *Host) runtime(ctx context.Context, guarded bool) (wazero.Runtime, error) {
	i := 0
	if guarded {
		i = 1
	}
	if rt := h.runtimes[i]; rt != nil {
		return rt, nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(h.pages).
		WithCloseOnContextDone(guarded).
		WithCoreFeatures(api.CoreFeaturesV2)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasmhost: WASI: %w", err)
	}
	if err := h.instantiateHostModule(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	h.runtimes[i] = rt
	return rt, nil
}

// moduleKey identifies a compiled module: the same bytes compile once per
// runtime.
type moduleKey struct {
	sum     [sha256.Size]byte
	guarded bool
}

// module is one compiled module shared by every plugin loaded from the same
// bytes.
type module struct {
	key      moduleKey
	rt       wazero.Runtime
	ready    chan struct{} // closed once compiled and checked
	compiled wazero.CompiledModule
	err      error // compile or static check failure, without plugin name
	hasStart bool
	hooks    map[abi.Hook]bool // hook exports present with the right signature
	refs     int
}

// acquireModule returns the compiled module for wasm, compiling and
// checking it once per content hash.
func (h *Host) acquireModule(ctx context.Context, wasm []byte, guarded bool) (*module, error) {
	key := moduleKey{sum: sha256.Sum256(wasm), guarded: guarded}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	m := h.modules[key]
	if m != nil {
		m.refs++
		h.mu.Unlock()
		<-m.ready
		if m.err != nil {
			h.releaseModule(ctx, m)
			return nil, m.err
		}
		return m, nil
	}
	rt, err := h.runtime(ctx, guarded)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	m = &module{key: key, rt: rt, ready: make(chan struct{}), refs: 1}
	h.modules[key] = m
	h.mu.Unlock()

	// Compile functions on every core: a cold Go guest compiles in half
	// the time on two.
	cctx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	m.compiled, m.err = rt.CompileModule(cctx, wasm)
	if m.err != nil {
		m.err = &Error{Kind: ErrInvalidModule, Op: "load", Detail: "compile: " + m.err.Error(), cause: m.err}
	} else {
		m.err = h.checkModule(rt, m)
	}
	close(m.ready)
	if m.err != nil {
		h.releaseModule(ctx, m)
		return nil, m.err
	}
	return m, nil
}

// releaseModule drops a reference and closes the compiled module with the
// last one.
func (h *Host) releaseModule(ctx context.Context, m *module) {
	h.mu.Lock()
	m.refs--
	last := m.refs == 0
	if last && h.modules[m.key] == m {
		delete(h.modules, m.key)
	}
	h.mu.Unlock()
	if last && m.compiled != nil {
		m.compiled.Close(ctx)
	}
}
