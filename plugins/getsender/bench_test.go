package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// benchCases are the golden cases the benchmarks time: one message decoded
// and encoded per kind family, and both answers.
var benchCases = []string{
	"decode_request/t01_text",
	"decode_request/t02_image",
	"decode_request/t07_news",
	"decode_request/t09_template",
	"encode_request/text_two_users",
	"encode_request/image",
	"encode_request/news",
	"decode_response/success",
	"encode_response/success",
}

const wasmFile = "getsender.wasm"

// BenchmarkCodec times each benchmark case natively and in wasm, and
// reports the wasm time as a multiple of the native one ("x-native"; the
// target is ≤ 3).
func BenchmarkCodec(b *testing.B) {
	benchCodec(b, caseDir, wasmFile, benchCases)
}

// TestBenchCases is the benchmark's twin: every case it times exists,
// succeeds, and gives the same bytes natively and in wasm, so the figures
// compare the same work.
func TestBenchCases(t *testing.T) {
	w := openWasm(t, wasmFile)
	for _, bc := range loadBench(t, caseDir, benchCases) {
		native, isErr := sdk.Dispatch(bc.hook, bc.input)
		if isErr {
			t.Fatalf("%s: native: %s", bc.name, native)
		}
		native = bytes.Clone(native)
		wasm, isErr, err := w.call(bc.hook, bc.input)
		if err != nil || isErr {
			t.Fatalf("%s: wasm: %v %s", bc.name, err, wasm)
		}
		if !bytes.Equal(native, wasm) {
			t.Fatalf("%s: native and wasm outputs differ:\n%s\n%s", bc.name, native, wasm)
		}
	}
}

// benchCase is one timed hook call.
type benchCase struct {
	name  string
	hook  abi.Hook
	input []byte
}

func loadBench(tb testing.TB, dir string, names []string) []benchCase {
	tb.Helper()
	var out []benchCase
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name+".txt"))
		if err != nil {
			tb.Fatal(err)
		}
		c, err := sdktest.ParseCase(data)
		if err != nil {
			tb.Fatal(err)
		}
		c.Name = name
		h, err := c.Hook()
		if err != nil {
			tb.Fatal(err)
		}
		in, err := c.Input()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, benchCase{name, h, in})
	}
	return out
}

func benchCodec(b *testing.B, dir, wasmPath string, names []string) {
	cases := loadBench(b, dir, names)
	w := openWasm(b, wasmPath)
	for _, bc := range cases {
		b.Run(bc.name+"/native", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, isErr := sdk.Dispatch(bc.hook, bc.input); isErr {
					b.Fatal("guest error")
				}
			}
		})
		b.Run(bc.name+"/wasm", func(b *testing.B) {
			// The same number of native calls, timed outside the
			// benchmark's clock, gives the ratio on this machine now.
			b.StopTimer()
			start := time.Now()
			for range b.N {
				sdk.Dispatch(bc.hook, bc.input)
			}
			native := time.Since(start)
			b.ReportAllocs()
			b.StartTimer()
			for range b.N {
				if _, isErr, err := w.call(bc.hook, bc.input); err != nil || isErr {
					b.Fatal("wasm call failed", err)
				}
			}
			b.StopTimer()
			if native > 0 {
				b.ReportMetric(float64(b.Elapsed())/float64(native), "x-native")
			}
		})
	}
}

// wasmCodec runs a plugin module with the bare ABI on wazero: the same
// calls the relay's host makes, without its pool, so the figures are the
// guest's own cost.
type wasmCodec struct {
	ctx    context.Context
	mod    api.Module
	mem    api.Memory
	buffer api.Function
	hooks  [abi.HookTransform + 1]api.Function
	stack  []uint64
}

func openWasm(tb testing.TB, path string) *wasmCodec {
	tb.Helper()
	code, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("%v (build it with `make plugins` from the repository root)", err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	_, err = rt.NewHostModuleBuilder(abi.ImportModule).
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, int32, uint32, uint32) {}).Export(abi.ImportLog).
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32) uint32 { return 0 }).Export(abi.ImportConfig).
		Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	mod, err := rt.InstantiateWithConfig(ctx, code, wazero.NewModuleConfig().WithStartFunctions(abi.ExportStart))
	if err != nil {
		tb.Fatal(err)
	}
	if r, err := mod.ExportedFunction(abi.ExportInit).Call(ctx); err != nil || r[0] != 0 {
		tb.Fatalf("init: %v %x", err, r)
	}
	w := &wasmCodec{ctx: ctx, mod: mod, mem: mod.Memory(), buffer: mod.ExportedFunction(abi.ExportBuffer), stack: make([]uint64, 1)}
	for _, h := range abi.KindCodec.Hooks() {
		w.hooks[h] = mod.ExportedFunction(h.ExportName())
	}
	return w
}

// call runs one hook; the output is a copy.
func (w *wasmCodec) call(hook abi.Hook, input []byte) ([]byte, bool, error) {
	w.stack[0] = uint64(len(input))
	if err := w.buffer.CallWithStack(w.ctx, w.stack); err != nil {
		return nil, false, err
	}
	if !w.mem.Write(uint32(w.stack[0]), input) {
		return nil, false, fmt.Errorf("input buffer out of range")
	}
	w.stack[0] = uint64(len(input))
	if err := w.hooks[hook].CallWithStack(w.ctx, w.stack); err != nil {
		return nil, false, err
	}
	ptr, n, isErr := abi.Unpack(w.stack[0])
	out, ok := w.mem.Read(ptr, n)
	if !ok {
		return nil, false, fmt.Errorf("output out of range")
	}
	return bytes.Clone(out), isErr, nil
}
