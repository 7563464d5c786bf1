package wasmhost

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/xlate/xlate"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Every benchmark here has a baseline beside it, and TestBenchSetup checks
// that each measures what its name claims.

//go:noinline
func nativeNoop() int64 { return 0 }

// BenchmarkEmptyHook measures the cost of crossing into a guest and back,
// layer by layer, beside a native call:
//
//   - export-bare: a Go guest export that returns at once;
//   - export-gosched: the same plus the runtime.Gosched the SDK runs before
//     every export returns;
//   - call-tiny: Instance.Call on a hand-assembled module whose hook returns
//     a constant, which is the host's own cost per hook (input buffer, copy
//     in, hook, result view);
//   - call-echo: Instance.Call on the echo fixture, a Go guest that parses
//     its input frame and yields like the SDK.
func BenchmarkEmptyHook(b *testing.B) {
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nativeNoop()
		}
	})
	for _, export := range []string{"fixture_bare", "fixture_noop"} {
		name := map[string]string{"fixture_bare": "export-bare", "fixture_noop": "export-gosched"}[export]
		b.Run(name, func(b *testing.B) {
			h, _ := newHost(b, Config{})
			p := load(b, h, "echo", Options{})
			ctx := context.Background()
			in, _ := p.Acquire(ctx)
			defer p.Release(in)
			// Warm the guest up: a Go guest behaves differently once it
			// has allocated.
			if _, err := in.Call(ctx, abi.HookTransform, batch("warm")); err != nil {
				b.Fatal(err)
			}
			fn := in.mod.ExportedFunction(export)
			b.ReportAllocs()
			for b.Loop() {
				if err := fn.CallWithStack(ctx, in.stack[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, fx := range []string{"tiny", "echo"} {
		b.Run("call-"+fx, func(b *testing.B) {
			h, _ := newHost(b, Config{})
			var p *Plugin
			if fx == "tiny" {
				var err error
				if p, err = h.Load(context.Background(), "tiny", tinyModule(1, 2, "", ""), Options{}); err != nil {
					b.Fatal(err)
				}
			} else {
				p = load(b, h, fx, Options{})
			}
			ctx := context.Background()
			in, _ := p.Acquire(ctx)
			defer p.Release(in)
			input := batch("")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Call(ctx, abi.HookTransform, input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPool measures Acquire + Release of a warm instance, beside
// sync.Pool (which the pool must not be: it drops instances at every GC) and
// a bare mutex-guarded stack.
func BenchmarkPool(b *testing.B) {
	b.Run("sync.Pool", func(b *testing.B) {
		var sp sync.Pool
		v := new(int)
		sp.Put(v)
		b.ReportAllocs()
		for b.Loop() {
			x, _ := sp.Get().(*int)
			if x == nil {
				x = v
			}
			sp.Put(x)
		}
	})
	b.Run("mutex-stack", func(b *testing.B) {
		var mu sync.Mutex
		stack := []*int{new(int)}
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock()
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			mu.Unlock()
			mu.Lock()
			stack = append(stack, x)
			mu.Unlock()
		}
	})
	b.Run("wasmhost", func(b *testing.B) {
		h, _ := newHost(b, Config{})
		p := load(b, h, "echo", Options{})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			in, err := p.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(in)
		}
	})
	b.Run("wasmhost-parallel", func(b *testing.B) {
		h, _ := newHost(b, Config{})
		p := load(b, h, "echo", Options{})
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				in, err := p.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p.Release(in)
			}
		})
	})
}

// BenchmarkTranslate measures the 1 KB translation of package xlate run
// natively and in wasm through the full Call, and reports the ratio.
func BenchmarkTranslate(b *testing.B) {
	var native float64
	b.Run("native", func(b *testing.B) {
		var out []byte
		b.ReportAllocs()
		b.SetBytes(int64(len(xlate.Sample)))
		for b.Loop() {
			out = xlate.Translate(out[:0], xlate.Sample)
		}
		native = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("wasm", func(b *testing.B) {
		h, _ := newHost(b, Config{})
		p := load(b, h, "xlate", Options{})
		ctx := context.Background()
		in, _ := p.Acquire(ctx)
		defer p.Release(in)
		input := batch(string(xlate.Sample))
		b.ReportAllocs()
		b.SetBytes(int64(len(xlate.Sample)))
		for b.Loop() {
			if _, err := in.Call(ctx, abi.HookTransform, input); err != nil {
				b.Fatal(err)
			}
		}
		if native > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/native, "x-native")
		}
	})
}

// BenchmarkGuard measures what wazero's WithCloseOnContextDone costs: the
// same JSON translation and the same tight loop in the unguarded runtime,
// in the guarded one with a background context, and in the guarded one
// with a per-call deadline (how Options.Timeout runs).
func BenchmarkGuard(b *testing.B) {
	const spinRounds = 100_000
	modes := []struct {
		name string
		opts Options
	}{
		{"unguarded", Options{}},
		{"guarded", Options{Guard: true}},
		{"guarded+timeout", Options{Timeout: time.Hour}},
	}
	for _, work := range []string{"json", "spin"} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("%s/%s", work, m.name), func(b *testing.B) {
				h, _ := newHost(b, Config{})
				p := load(b, h, "xlate", m.opts)
				ctx := context.Background()
				in, _ := p.Acquire(ctx)
				defer p.Release(in)
				input := batch(string(xlate.Sample))
				spin := in.mod.ExportedFunction("fixture_spin")
				b.ReportAllocs()
				for b.Loop() {
					switch work {
					case "json":
						if _, err := in.Call(ctx, abi.HookTransform, input); err != nil {
							b.Fatal(err)
						}
					case "spin":
						// Called directly, so apply the per-call
						// deadline as Instance.Call does.
						c, cancel := ctx, context.CancelFunc(func() {})
						if m.opts.Timeout > 0 {
							c, cancel = context.WithTimeout(ctx, m.opts.Timeout)
						}
						in.stack[0] = spinRounds
						if err := spin.CallWithStack(c, in.stack[:]); err != nil {
							b.Fatal(err)
						}
						cancel()
					}
				}
			})
		}
	}
}

// BenchmarkLoad measures Load of the echo fixture: compiling it cold (an
// empty cache folder each time), from the on-disk cache (a new Host on a
// warm folder, as after a restart), and in a Host that already holds the
// module (same bytes, another plugin). Each Load also instantiates and
// initialises the plugin's first instance.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	wasm := fixture(b, "echo")
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			h, _ := newHost(b, Config{CacheDir: b.TempDir()})
			if _, err := h.Load(ctx, "echo", wasm, Options{}); err != nil {
				b.Fatal(err)
			}
			h.Close(ctx)
		}
	})
	b.Run("disk-cache", func(b *testing.B) {
		dir := b.TempDir()
		h, _ := newHost(b, Config{CacheDir: dir})
		if _, err := h.Load(ctx, "echo", wasm, Options{}); err != nil {
			b.Fatal(err)
		}
		h.Close(ctx)
		for b.Loop() {
			h, _ := newHost(b, Config{CacheDir: dir})
			if _, err := h.Load(ctx, "echo", wasm, Options{}); err != nil {
				b.Fatal(err)
			}
			h.Close(ctx)
		}
	})
	b.Run("same-host", func(b *testing.B) {
		h, _ := newHost(b, Config{})
		load(b, h, "echo", Options{})
		for b.Loop() {
			p, err := h.Load(ctx, "again", wasm, Options{})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
}

// BenchmarkInstantiate measures what the pool saves: a fresh instance of a
// Go guest (instantiate, Go's reactor start, version, kind, init) against
// Acquire + Release of a warm one.
func BenchmarkInstantiate(b *testing.B) {
	h, _ := newHost(b, Config{})
	p := load(b, h, "echo", Options{})
	ctx := context.Background()
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in, err := p.newInstance(ctx)
			if err != nil {
				b.Fatal(err)
			}
			in.close()
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in, err := p.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(in)
		}
	})
}
