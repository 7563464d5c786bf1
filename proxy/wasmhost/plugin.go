package wasmhost

import (
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Options configures one loaded plugin. The zero value is usable: each zero
// field means the documented default.
type Options struct {
	// Kind is the kind the route needs; 0 accepts either.
	Kind abi.Kind
	// Config is handed to the guest as raw bytes (abi.ImportConfig); its
	// imrelay_init may refuse it, which fails the load.
	Config []byte
	// MaxInstances bounds the pool: at most this many instances exist, and
	// so at most this many requests run in the plugin at once; more wait in
	// Acquire. Default 2 × GOMAXPROCS.
	MaxInstances int
	// MaxCalls recycles an instance after this many calls. Default 100,000;
	// negative never.
	MaxCalls int
	// RecycleMemory recycles an instance whose linear memory has grown past
	// this many bytes (wasm memory never shrinks). Default 32 MiB, and
	// never more than the host's MemoryLimit.
	RecycleMemory uint64
	// Timeout stops any call that runs longer, and makes the plugin run in
	// the guarded runtime (wazero's WithCloseOnContextDone), where the
	// caller's context can stop a call too. Zero: no deadline, the faster
	// runtime; for trusted plugins. See RATIONALE.md.
	Timeout time.Duration
	// Guard runs the plugin in the guarded runtime without a Timeout of its
	// own: a call then stops when the caller's context ends. Timeout > 0
	// implies Guard.
	Guard bool
	// MaxOutput is the longest result a hook may return. Default 16 MiB.
	MaxOutput int
	// CrashLimit is how many faults in a row (traps, deadlines, memory cap,
	// bad results; not guest errors) put the plugin in back-off. Default 5.
	CrashLimit int
	// BackoffMin is the first back-off; each further trip doubles it up to
	// BackoffMax. Defaults 1 s and 1 min.
	BackoffMin, BackoffMax time.Duration
}

const (
	defaultMaxCalls      = 100_000
	defaultRecycleMemory = 32 << 20
	defaultMaxOutput     = 16 << 20
	defaultCrashLimit    = 5
	defaultBackoffMin    = time.Second
	defaultBackoffMax    = time.Minute
	// initTimeout bounds a guarded plugin's instantiation and init.
	initTimeout = 10 * time.Second
)

func (o *Options) normalize(h *Host) {
	if o.MaxInstances <= 0 {
		o.MaxInstances = 2 * runtime.GOMAXPROCS(0)
	}
	if o.MaxCalls == 0 {
		o.MaxCalls = defaultMaxCalls
	}
	if o.RecycleMemory == 0 {
		o.RecycleMemory = defaultRecycleMemory
	}
	o.RecycleMemory = min(o.RecycleMemory, h.MemoryLimit())
	if o.Timeout > 0 {
		o.Guard = true
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = defaultMaxOutput
	}
	o.MaxOutput = min(o.MaxOutput, abi.MaxLen)
	if o.CrashLimit <= 0 {
		o.CrashLimit = defaultCrashLimit
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = defaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(defaultBackoffMax, o.BackoffMin)
	}
}

// Plugin is one loaded plugin: a compiled module, its configuration and a
// bounded pool of instances. Acquire an instance for a whole request, call
// its hooks, then Release it.
//
//	in, err := p.Acquire(ctx)
//	if err != nil { ... }
//	defer p.Release(in)
//	batch, err := in.Call(ctx, abi.HookDecodeRequest, input)
type Plugin struct {
	h      *Host
	name   string
	opts   Options
	config []byte
	mod    *module
	kind   abi.Kind

	// slots bounds the instances in use or being created: a token is sent
	// by Acquire and received by Release.
	slots chan struct{}

	mu         sync.Mutex
	idle       []*Instance    // LIFO: the warmest instance is reused first
	live       int            // instances that exist (idle, leased or being created)
	replacing  int            // background re-creations under way
	bg         sync.WaitGroup // the same, for Host.Close to wait on
	closed     bool
	drained    chan struct{} // closed once closed and live == 0 and replacing == 0
	forgetOnce sync.Once

	// Crash back-off. openUntil is the UnixNano until which Acquire refuses
	// (0: not backing off); faults and trips are guarded by mu.
	openUntil atomic.Int64
	faults    int
	trips     int
	healthy   atomic.Bool // false after a fault, until a call succeeds

	inUse atomic.Int32
	stats struct {
		created, faults, recycled, backoffs atomic.Int64
	}
}

// Stats counts what happened in a plugin's pool.
type Stats struct {
	Live     int    // instances that exist: idle, in use or being built
	Idle     int    // instances waiting in the pool
	InUse    int    // instances acquired and not yet released
	Memory   uint64 // linear memory of the idle instances, in bytes
	Created  int64  // instances created (the first one at load included)
	Faults   int64  // calls that ended in a trap, deadline, memory cap or bad result
	Recycled int64  // instances retired after MaxCalls or RecycleMemory
	Backoffs int64  // times the plugin entered back-off
}

// Load compiles wasm (once per content hash), checks it against ABI v1,
// creates the pool's first instance and runs its init with opts.Config.
// Every failure is an *Error that names the plugin and what is wrong.
func (h *Host) Load(ctx context.Context, name string, wasm []byte, opts Options) (*Plugin, error) {
	opts.normalize(h)
	p := &Plugin{
		h: h, name: name, opts: opts,
		config:  append([]byte(nil), opts.Config...),
		slots:   make(chan struct{}, opts.MaxInstances),
		idle:    make([]*Instance, 0, opts.MaxInstances),
		drained: make(chan struct{}),
	}
	p.opts.Config = p.config
	p.healthy.Store(true)
	m, err := h.acquireModule(ctx, wasm, opts.Guard)
	if err != nil {
		return nil, p.named(err)
	}
	p.mod = m
	in, err := p.newInstance(ctx)
	if err != nil {
		h.releaseModule(ctx, m)
		return nil, err
	}
	p.kind = in.kind
	p.live = 1
	p.idle = append(p.idle, in)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.shut()
		return nil, p.errorf("load", ErrClosed, "host closed")
	}
	h.plugins[p] = struct{}{}
	h.mu.Unlock()
	return p, nil
}

// named returns err with the plugin's name filled in.
func (p *Plugin) named(err error) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Plugin = p.name
		return &c
	}
	if err == ErrClosed {
		return p.errorf("load", ErrClosed, "host closed")
	}
	return err
}

func (p *Plugin) errorf(op string, kind error, format string, args ...any) *Error {
	return &Error{Plugin: p.name, Op: op, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Hash returns the hex SHA-256 of the module's bytes: plugins loaded from
// the same bytes share one compiled module.
func (p *Plugin) Hash() string { return hex.EncodeToString(p.mod.key.sum[:]) }

// Kind returns the kind the plugin reported at load.
func (p *Plugin) Kind() abi.Kind { return p.kind }

// Options returns the plugin's options with every default filled in.
func (p *Plugin) Options() Options { return p.opts }

// Stats returns the pool's counters.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	live, idle := p.live, len(p.idle)
	var mem uint64
	for _, in := range p.idle {
		mem += uint64(in.mem.Size())
	}
	p.mu.Unlock()
	return Stats{
		Live: live, Idle: idle, Memory: mem,
		InUse:    int(p.inUse.Load()),
		Created:  p.stats.created.Load(),
		Faults:   p.stats.faults.Load(),
		Recycled: p.stats.recycled.Load(),
		Backoffs: p.stats.backoffs.Load(),
	}
}

// Acquire returns an instance for the caller's exclusive use: pin it for the
// whole request and give it back with Release. It waits for a free instance
// until ctx is done (ErrBusy), and fails at once while the plugin backs off
// after repeated crashes (ErrBackoff) or once it is closed (ErrClosed).
//
// With an idle instance at hand it does not allocate.
func (p *Plugin) Acquire(ctx context.Context) (*Instance, error) {
	if until := p.openUntil.Load(); until != 0 {
		if wait := time.Duration(until - p.h.cfg.now().UnixNano()); wait > 0 {
			return nil, p.errorf("acquire", ErrBackoff, "%d crashes in a row; retrying in %s", p.opts.CrashLimit, wait.Round(time.Millisecond))
		}
	}
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, &Error{Plugin: p.name, Op: "acquire", Kind: ErrBusy,
				Detail: fmt.Sprintf("all %d instances stayed in use: %v", p.opts.MaxInstances, ctx.Err()), cause: ctx.Err()}
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, p.errorf("acquire", ErrClosed, "plugin closed")
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		in.leased = true
		p.inUse.Add(1)
		return in, nil
	}
	p.live++
	p.mu.Unlock()
	in, err := p.newInstance(ctx)
	if err != nil {
		p.mu.Lock()
		p.live--
		p.maybeDrained()
		p.mu.Unlock()
		<-p.slots
		return nil, err
	}
	in.leased = true
	p.inUse.Add(1)
	return in, nil
}

// Release gives an instance back. A healthy instance returns to the pool;
// one that crashed, hit a deadline or returned garbage is closed, as is one
// due for recycling, and a fresh instance replaces it in the background so
// the next request does not pay for instantiation. Release(nil) does
// nothing; releasing an instance twice panics.
func (p *Plugin) Release(in *Instance) {
	if in == nil {
		return
	}
	if in.p != p || !in.leased {
		panic("wasmhost: Release of an instance not acquired from this plugin")
	}
	in.leased = false
	p.inUse.Add(-1)
	recycle := in.broken == nil &&
		((p.opts.MaxCalls > 0 && in.calls >= p.opts.MaxCalls) || uint64(in.mem.Size()) > p.opts.RecycleMemory)
	p.mu.Lock()
	if in.broken == nil && !recycle && !p.closed {
		p.idle = append(p.idle, in)
		p.mu.Unlock()
		<-p.slots
		return
	}
	p.live--
	replace := !p.closed && p.openUntil.Load() == 0
	if replace {
		p.replacing++
		p.bg.Add(1)
	}
	p.maybeDrained()
	p.mu.Unlock()
	if recycle {
		p.stats.recycled.Add(1)
	}
	if !replace {
		in.close()
		<-p.slots
		return
	}
	// The slot stays taken until the replacement is idle, so the pool never
	// holds more than MaxInstances.
	go p.replace(in)
}

func (p *Plugin) replace(old *Instance) {
	defer p.bg.Done()
	old.close()
	defer func() { <-p.slots }()
	p.mu.Lock()
	if p.closed {
		p.replacing--
		p.maybeDrained()
		p.mu.Unlock()
		return
	}
	p.live++
	p.mu.Unlock()
	in, err := p.newInstance(context.Background())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replacing--
	if err != nil || p.closed {
		p.live--
		p.maybeDrained()
		if err != nil {
			p.h.logger.Warn("wasmhost: could not replace a plugin instance", "plugin", p.name, "err", err)
		} else {
			in.close()
		}
		return
	}
	p.idle = append(p.idle, in)
}

// maybeDrained closes p.drained once a closed plugin has nothing left.
// p.mu is held.
func (p *Plugin) maybeDrained() {
	if p.closed && p.live == 0 && p.replacing == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}

// noteFault counts a fault and opens the back-off after CrashLimit in a row.
func (p *Plugin) noteFault() {
	p.stats.faults.Add(1)
	p.healthy.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults++
	// After a trip, the first call is a probe: one more fault before any
	// success reopens the back-off at twice the wait.
	if p.faults < p.opts.CrashLimit && p.trips == 0 {
		return
	}
	p.faults = 0
	wait := p.opts.BackoffMin << min(p.trips, 30)
	if wait <= 0 || wait > p.opts.BackoffMax {
		wait = p.opts.BackoffMax
	}
	p.trips++
	p.openUntil.Store(p.h.cfg.now().Add(wait).UnixNano())
	p.stats.backoffs.Add(1)
	p.h.logger.Error("wasmhost: plugin keeps crashing; backing off", "plugin", p.name, "crashes", p.opts.CrashLimit, "wait", wait)
}

// noteSuccess ends the back-off once a call succeeds again.
func (p *Plugin) noteSuccess() {
	p.mu.Lock()
	p.faults, p.trips = 0, 0
	p.openUntil.Store(0)
	p.healthy.Store(true)
	p.mu.Unlock()
}

// Close stops handing out instances, closes the idle ones and waits until
// every leased instance has been released and closed, or ctx is done. It is
// the last step of a hot reload: load the new version beside the old,
// switch routes to it, then Close the old one.
func (p *Plugin) Close(ctx context.Context) error {
	p.shut()
	select {
	case <-p.drained:
		p.forget()
		return nil
	case <-ctx.Done():
		return &Error{Plugin: p.name, Op: "close", Kind: ErrClosed, Detail: "instances still leased: " + ctx.Err().Error(), cause: ctx.Err()}
	}
}

// shut marks the plugin closed and closes its idle instances.
func (p *Plugin) shut() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	p.maybeDrained()
	p.mu.Unlock()
	for _, in := range idle {
		in.close()
	}
	go func() {
		<-p.drained
		p.forget()
	}()
}

// forget releases the compiled module and unregisters the plugin from its
// host, once, after the last instance is gone.
func (p *Plugin) forget() {
	p.forgetOnce.Do(func() {
		p.h.releaseModule(context.Background(), p.mod)
		p.h.mu.Lock()
		delete(p.h.plugins, p)
		p.h.mu.Unlock()
	})
}

// Run acquires an instance, calls hook once, releases the instance and
// returns a copy of the output. It is for one-off calls (the CLI, tests); a
// request that calls several hooks pins one instance with Acquire instead.
func (p *Plugin) Run(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	in, err := p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer p.Release(in)
	out, err := in.Call(ctx, hook, input)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out...), nil
}
