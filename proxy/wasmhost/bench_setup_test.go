package wasmhost

import (
	"context"
	"testing"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/xlate/xlate"
)

// TestBenchSetup is the twin of the benchmarks: it checks that each one
// measures what its name claims.
func TestBenchSetup(t *testing.T) {
	h, _ := newHost(t, Config{})
	ctx := context.Background()

	t.Run("translate: wasm and native give the same bytes", func(t *testing.T) {
		want := string(xlate.Translate(nil, xlate.Sample))
		if len(xlate.Sample) < 900 || len(xlate.Sample) > 1200 {
			t.Errorf("sample is %d bytes, want about 1 KB", len(xlate.Sample))
		}
		for _, cfg := range []string{"", "alloc"} {
			p := load(t, h, "xlate", Options{Config: []byte(cfg)})
			out, err := transform(t, p, string(xlate.Sample))
			if err != nil {
				t.Fatal(err)
			}
			if cfg == "alloc" {
				want = string(xlate.TranslateAlloc(xlate.Sample))
			}
			if out != want {
				t.Errorf("config %q:\nwasm   %s\nnative %s", cfg, out, want)
			}
		}
		if a := testing.AllocsPerRun(100, func() { xlate.Translate(make([]byte, 0, 2048), xlate.Sample) }); a > 1 {
			t.Errorf("native Translate allocates %v times, want only its output buffer", a)
		}
	})

	t.Run("empty hooks: the exports exist and do nothing", func(t *testing.T) {
		p := load(t, h, "echo", Options{})
		in, _ := p.Acquire(ctx)
		defer p.Release(in)
		for _, name := range []string{"fixture_bare", "fixture_noop"} {
			fn := in.mod.ExportedFunction(name)
			if fn == nil {
				t.Fatalf("echo has no %s", name)
			}
			in.stack[0] = 42
			if err := fn.CallWithStack(ctx, in.stack[:]); err != nil || in.stack[0] != 0 {
				t.Errorf("%s = %d, %v; want 0", name, in.stack[0], err)
			}
		}
	})

	t.Run("tiny: the hook returns nothing", func(t *testing.T) {
		p, err := h.Load(ctx, "tiny", tinyModule(1, 2, "", ""), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := transform(t, p, ""); err != nil || len(out) != 0 {
			t.Errorf("tiny transform = %q, %v", out, err)
		}
	})

	t.Run("guard: the modes run where they claim", func(t *testing.T) {
		for _, tt := range []struct {
			opts    Options
			guarded bool
		}{{Options{}, false}, {Options{Guard: true}, true}, {Options{Timeout: 1}, true}} {
			// BenchmarkGuard loads xlate; the loop fixture is already
			// compiled guarded for other tests, and a cold compile under
			// -race takes half a minute.
			name := "loop"
			if !tt.guarded {
				name = "xlate"
			}
			p := load(t, h, name, tt.opts)
			if p.mod.key.guarded != tt.guarded || p.mod.rt != h.runtimes[map[bool]int{false: 0, true: 1}[tt.guarded]] {
				t.Errorf("options %+v: guarded %v, want %v", tt.opts, p.mod.key.guarded, tt.guarded)
			}
		}
		p := load(t, h, "xlate", Options{})
		in, _ := p.Acquire(ctx)
		defer p.Release(in)
		spin := in.mod.ExportedFunction("fixture_spin")
		in.stack[0] = 1000
		if err := spin.CallWithStack(ctx, in.stack[:]); err != nil || in.stack[0] != uint64(xlate.Spin(1000)) {
			t.Errorf("spin = %d, %v; want %d", in.stack[0], err, xlate.Spin(1000))
		}
	})
}
