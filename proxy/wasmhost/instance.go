package wasmhost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Instance is one instantiated plugin module. It is not safe for concurrent
// use: Acquire pins it to one request, which calls its hooks one after the
// other and then Releases it.
type Instance struct {
	p      *Plugin
	kind   abi.Kind
	mod    api.Module
	mem    api.Memory
	buffer api.Function
	hooks  [abi.HookTransform + 1]api.Function
	stack  [1]uint64
	calls  int
	leased bool
	broken *Error // the fault that made the instance unusable
	out    tail   // what the guest wrote to stdout and stderr in this call

	logLines, logDropped int
}

// newInstance instantiates the plugin's module, runs Go's reactor start,
// checks the ABI version and kind, and runs the plugin's init with its
// configuration.
func (p *Plugin) newInstance(ctx context.Context) (in *Instance, err error) {
	if p.opts.Guard {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), max(initTimeout, p.opts.Timeout))
		defer cancel()
	}
	in = &Instance{p: p}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // run below, once the host functions know the instance
		WithStdout(&in.out).
		WithStderr(&in.out).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	mod, err := p.mod.rt.InstantiateModule(ctx, p.mod.compiled, cfg)
	if err != nil {
		return nil, in.crash("load", err)
	}
	in.mod = mod
	in.mem = mod.Memory()
	p.h.instances.Store(mod, in)
	inst := in // in is nil on the error returns below
	defer func() {
		if err != nil {
			inst.close()
		}
	}()
	if p.mod.hasStart {
		if err := mod.ExportedFunction(abi.ExportStart).CallWithStack(ctx, in.stack[:]); err != nil {
			return nil, in.crash("load", err)
		}
	}
	if err := in.mod.ExportedFunction(abi.ExportVersion).CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.crash("load", err)
	}
	if v := uint32(in.stack[0]); v != abi.Version {
		return nil, p.errorf("load", ErrInvalidModule, "%s returned %d: this host speaks ABI v%d", abi.ExportVersion, v, abi.Version)
	}
	if err := in.mod.ExportedFunction(abi.ExportKind).CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.crash("load", err)
	}
	if err := p.mod.checkKind(uint32(in.stack[0]), p.opts.Kind); err != nil {
		return nil, p.named(err)
	}
	in.kind = abi.Kind(in.stack[0])
	in.buffer = mod.ExportedFunction(abi.ExportBuffer)
	for _, hook := range in.kind.Hooks() {
		in.hooks[hook] = mod.ExportedFunction(hook.ExportName())
	}
	if err := mod.ExportedFunction(abi.ExportInit).CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.crash("init", err)
	}
	in.flushLogDrops()
	if _, err := in.result("init", in.stack[0]); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Kind == ErrGuest {
			e.Kind = ErrInit
		}
		return nil, err
	}
	p.stats.created.Add(1)
	return in, nil
}

// Kind returns the plugin's kind.
func (in *Instance) Kind() abi.Kind { return in.kind }

// MemorySize returns the size of the instance's linear memory in bytes.
func (in *Instance) MemorySize() uint32 { return in.mem.Size() }

// Call runs hook on input and returns its output: a view into guest memory,
// valid until the next Call on this instance or its Release; copy what must
// outlive them. The input is copied once, into the guest's own buffer.
//
// A guest error document comes back as an *Error with Kind ErrGuest and its
// Guest field set; the instance stays usable. A trap, a deadline, the memory
// cap or a bad result comes back as an *Error with Kind ErrTrap,
// ErrDeadline, ErrMemory or ErrBadOutput: the instance is then unusable and
// Release discards it.
//
// Without a Timeout and with output that fits, Call does not allocate.
func (in *Instance) Call(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	if in.broken != nil {
		return nil, in.broken
	}
	if int(hook) >= len(in.hooks) || in.hooks[hook] == nil {
		return nil, in.p.errorf(hook.String(), ErrNoHook, "a %s has no hook %d (%s)", in.kind, hook, hook)
	}
	if len(input) > abi.MaxLen {
		return nil, in.p.errorf(hook.String(), ErrInput, "%d bytes, over the ABI's limit of %d", len(input), abi.MaxLen)
	}
	if in.p.opts.Timeout > 0 {
		return in.callWithTimeout(ctx, hook, input)
	}
	return in.call(ctx, hook, input)
}

func (in *Instance) callWithTimeout(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, in.p.opts.Timeout)
	defer cancel()
	return in.call(ctx, hook, input)
}

func (in *Instance) call(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	in.out.reset()
	in.stack[0] = uint64(len(input))
	if err := in.buffer.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.crash(hook.String(), err)
	}
	if ptr := uint32(in.stack[0]); !in.mem.Write(ptr, input) {
		return nil, in.bad(hook.String(), "%s(%d) returned %#x, outside memory of %d bytes", abi.ExportBuffer, len(input), ptr, in.mem.Size())
	}
	in.stack[0] = uint64(len(input))
	if err := in.hooks[hook].CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.crash(hook.String(), err)
	}
	in.calls++
	if in.logLines != 0 {
		in.flushLogDrops()
	}
	out, err := in.result(hook.String(), in.stack[0])
	if in.broken == nil && !in.p.healthy.Load() {
		in.p.noteSuccess() // a hook ran to completion: the plugin works again
	}
	return out, err
}

// result reads a packed result.
func (in *Instance) result(op string, packed uint64) ([]byte, error) {
	ptr, n, isErr := abi.Unpack(packed)
	if int64(n) > int64(in.p.opts.MaxOutput) {
		return nil, in.bad(op, "result of %d bytes at %#x is over the %d-byte output limit", n, ptr, in.p.opts.MaxOutput)
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return nil, in.bad(op, "result [%#x, %#x) is outside memory of %d bytes", ptr, uint64(ptr)+uint64(n), in.mem.Size())
	}
	if isErr {
		var ge abi.GuestError
		if err := json.Unmarshal(b, &ge); err != nil || ge.Code == "" {
			return nil, in.bad(op, "error flag set on %d bytes that are not an error document: %q", n, preview(b))
		}
		return nil, &Error{Plugin: in.p.name, Op: op, Kind: ErrGuest, Guest: &ge}
	}
	return b, nil
}

// bad marks the instance unusable after a result that breaks the ABI.
func (in *Instance) bad(op, format string, args ...any) error {
	e := in.p.errorf(op, ErrBadOutput, format, args...)
	in.broken = e
	in.p.noteFault()
	return e
}

// crash turns an error from wazero into an *Error and marks the instance
// unusable: after a trap the guest's state is undefined, and after an exit
// or a deadline wazero has closed the module.
func (in *Instance) crash(op string, err error) error {
	e := &Error{Plugin: in.p.name, Op: op, Kind: ErrTrap, cause: err}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			e.Kind, e.Detail = ErrDeadline, fmt.Sprintf("still running after %s", in.p.opts.Timeout)
		case sys.ExitCodeContextCanceled:
			e.Kind, e.Detail = ErrDeadline, "the caller's context was cancelled"
		default:
			e.Detail = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
		}
	} else {
		e.Detail = firstLine(err.Error())
	}
	// A Go guest prints why it died (a panic, "fatal error: out of memory")
	// before it traps: that line says more than wazero's.
	if out := in.out.String(); out != "" {
		e.Output = out
		e.Detail = firstLine(out) + " (" + e.Detail + ")"
		if strings.Contains(out, "out of memory") {
			e.Kind = ErrMemory
			e.Detail += fmt.Sprintf(", memory cap %d bytes", in.p.h.MemoryLimit())
		}
	}
	in.broken = e
	in.p.noteFault()
	return e
}

// close closes the module and forgets it.
func (in *Instance) close() {
	if in.mod == nil {
		return
	}
	in.p.h.instances.Delete(in.mod)
	in.mod.Close(context.Background())
	in.mod = nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return preview([]byte(s))
}

func preview(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// tail keeps the first bytes the guest writes to stdout and stderr during
// one call: enough for a Go panic message, bounded so a chatty guest costs
// nothing more.
type tail struct {
	buf []byte
}

const tailMax = 4096

func (t *tail) Write(p []byte) (int, error) {
	if room := tailMax - len(t.buf); room > 0 {
		t.buf = append(t.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *tail) reset() { t.buf = t.buf[:0] }

func (t *tail) String() string { return string(t.buf) }
