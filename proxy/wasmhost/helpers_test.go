package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

// testCacheDir keeps compiled fixtures across test runs and packages: a
// cold compile of a Go guest takes a second (half a minute under -race), a
// cached one 50 ms. It is the relay's own default, which the examples and
// the other packages' tests use too.
var testCacheDir = func() string {
	if d := DefaultCacheDir(); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "imrelay-wazero-cache")
}()

var fixtures sync.Map // name -> []byte

// fixture returns the bytes of testdata/<name>/<name>.wasm.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := fixtures.Load(name); ok {
		return b.([]byte)
	}
	b, err := os.ReadFile(filepath.Join("testdata", name, name+".wasm"))
	if err != nil {
		t.Fatalf("fixture %s: %v (run 'make plugins' to build the fixtures)", name, err)
	}
	fixtures.Store(name, b)
	return b
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newHost returns a Host with the shared compilation cache and a logger
// that writes to the returned buffer; it is closed when the test ends.
func newHost(t testing.TB, cfg Config) (*Host, *logBuffer) {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
	logs := &logBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h, logs
}

func load(t testing.TB, h *Host, name string, opts Options) *Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), name, fixture(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// batch returns the input frame of HookTransform for batch.
func batch(b string) []byte {
	f := abi.AppendFrame(nil, 2)
	f = abi.AppendFieldString(f, "{}")
	return abi.AppendFieldString(f, b)
}

// transform acquires an instance, runs one transform and releases it.
func transform(t testing.TB, p *Plugin, b string) (string, error) {
	t.Helper()
	ctx := context.Background()
	in, err := p.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer p.Release(in)
	out, err := in.Call(ctx, abi.HookTransform, batch(b))
	return string(out), err
}
