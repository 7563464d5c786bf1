package sdktest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Wasm runs the cases against a plugin's built module, path being relative
// to the test's package directory ("echo.wasm"), loaded by the relay's own
// host (proxy/wasmhost) exactly as the relay loads it. Plugin log lines go
// to the test log.
//
// The module is the one `make plugins` built, not the source under test:
// when native cases pass and wasm cases fail, rebuild it first.
func Wasm(path string) Target {
	return Target{name: "wasm", open: func(t *testing.T, logs *logSink) (runner, error) {
		wasm, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("sdktest: %w (build the module with `make plugins` from the repository root)", err)
		}
		ctx := context.Background()
		eng, err := newEngine(ctx, slog.New(&logHandler{sink: logs}))
		if err != nil {
			return nil, fmt.Errorf("sdktest: %w", err)
		}
		return &wasmRunner{
			eng:     eng,
			name:    strings.TrimSuffix(filepath.Base(path), ".wasm"),
			wasm:    wasm,
			plugins: map[string]wasmPlugin{},
		}, nil
	}}
}

// engine is the part of the relay's host sdktest uses; wasmPlugin is one
// loaded module. Keeping them behind an interface keeps the rest of the
// package independent of the host's API.
type engine interface {
	load(ctx context.Context, name string, wasm, config []byte) (wasmPlugin, error)
	close(ctx context.Context)
}

type wasmPlugin interface {
	// run acquires an instance, calls the hook, copies the output and
	// releases the instance, as the relay does for one request.
	run(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error)
	// pin acquires one instance for the caller's exclusive use.
	pin(ctx context.Context) (pinned, error)
	close(ctx context.Context)
}

// pinned is one instance of a plugin, kept until release.
type pinned interface {
	// call returns the output as a view valid until the next call.
	call(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error)
	memorySize() uint32
	release()
}

// wasmRunner loads the module once per distinct config and runs hooks on
// the one loaded with the current case's config.
type wasmRunner struct {
	eng     engine
	name    string
	wasm    []byte
	plugins map[string]wasmPlugin
	cur     wasmPlugin
}

func (w *wasmRunner) init(config []byte) error {
	if p, ok := w.plugins[string(config)]; ok {
		w.cur = p
		return nil
	}
	p, err := w.eng.load(context.Background(), w.name, w.wasm, config)
	if err != nil {
		w.cur = nil
		return err
	}
	w.plugins[string(config)], w.cur = p, p
	return nil
}

func (w *wasmRunner) call(hook abi.Hook, input []byte) ([]byte, error) {
	if w.cur == nil {
		return nil, fmt.Errorf("sdktest: %s is not loaded", w.name)
	}
	return w.cur.run(context.Background(), hook, input)
}

func (w *wasmRunner) close() {
	ctx := context.Background()
	for _, p := range w.plugins {
		p.close(ctx)
	}
	w.eng.close(ctx)
}

// logHandler is a slog.Handler that writes the host's log lines (the
// plugin's own, through imrelay.log, and the host's events) to the running
// case's test log.
type logHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.sink.log(int32(r.Level), b.String())
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{sink: h.sink, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// Module is one instance of a plugin's .wasm in the relay's host, pinned
// for the whole test: for benchmarks and long checks that call a hook many
// times and watch the instance (Run is for golden cases). The instance is
// never recycled, so its memory shows what the guest does over time.
type Module struct {
	eng  engine
	p    wasmPlugin
	in   pinned
	name string
}

// OpenWasm loads the module at path with config and pins one instance.
// It is closed when the test ends.
func OpenWasm(tb testing.TB, path string, config []byte) *Module {
	tb.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("sdktest: %v (build the module with `make plugins` from the repository root)", err)
	}
	ctx := context.Background()
	logs := &logSink{}
	logs.set(tb)
	eng, err := newEngine(ctx, slog.New(&logHandler{sink: logs}))
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	m := &Module{eng: eng, name: strings.TrimSuffix(filepath.Base(path), ".wasm")}
	tb.Cleanup(func() {
		logs.set(nil)
		if m.in != nil {
			m.in.release()
		}
		if m.p != nil {
			m.p.close(ctx)
		}
		eng.close(ctx)
	})
	if m.p, err = eng.load(ctx, m.name, wasm, config); err != nil {
		tb.Fatalf("sdktest: load %s: %v", path, err)
	}
	if m.in, err = m.p.pin(ctx); err != nil {
		tb.Fatalf("sdktest: %s: %v", path, err)
	}
	return m
}

// Call runs hook on the pinned instance. The output is a view into guest
// memory, valid until the next Call. A guest error is a *abi.GuestError
// (test with errors.As).
func (m *Module) Call(hook abi.Hook, input []byte) ([]byte, error) {
	return m.in.call(context.Background(), hook, input)
}

// MemorySize returns the size of the instance's linear memory in bytes.
// Wasm memory never shrinks, so this is the most the guest ever needed.
func (m *Module) MemorySize() uint32 { return m.in.memorySize() }
