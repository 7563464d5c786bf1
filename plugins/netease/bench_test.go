package main

import (
	"bytes"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
)

// benchCases are the golden cases the benchmarks time: one message per
// hook, a plain and a richer one where it matters.
var benchCases = []string{
	"decode_request/v2_text",
	"decode_request/v2_image",
	"decode_request/v2_batch",
	"decode_request/v1_text",
	"encode_request/v2_text_user",
	"encode_request/v2_image",
	"encode_request/v2_text_users_batch",
	"encode_request/v1_text_user",
	"decode_response/v2_conv_success",
	"decode_response/v2_batch_partial",
	"encode_response/v2_ok",
	"encode_response/v1_ok",
}

const wasmFile = "netease.wasm"

// benchCase is one timed hook call.
type benchCase struct {
	name  string
	hook  abi.Hook
	input []byte
}

func loadBench(tb testing.TB) []benchCase {
	tb.Helper()
	cases, err := sdktest.LoadCases(casesDir)
	if err != nil {
		tb.Fatal(err)
	}
	byName := map[string]*sdktest.Case{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	var out []benchCase
	for _, name := range benchCases {
		c, ok := byName[name]
		if !ok {
			tb.Fatalf("no golden case %s", name)
		}
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

// TestBenchCases is the benchmark's twin: every case it times succeeds and
// gives the same bytes natively and in wasm, so the figures compare the
// same work.
func TestBenchCases(t *testing.T) {
	w := sdktest.OpenWasm(t, wasmFile, nil)
	for _, bc := range loadBench(t) {
		native, isErr := sdk.Dispatch(bc.hook, bc.input)
		if isErr {
			t.Fatalf("%s: native: %s", bc.name, native)
		}
		native = bytes.Clone(native)
		wasm, err := w.Call(bc.hook, bc.input)
		if err != nil {
			t.Fatalf("%s: wasm: %v", bc.name, err)
		}
		if !bytes.Equal(native, wasm) {
			t.Fatalf("%s: native and wasm outputs differ:\n%s\n%s", bc.name, native, wasm)
		}
	}
}

// BenchmarkCodec times each case natively and in wasm (one pinned
// instance in the relay's host) and reports the wasm time as a multiple of
// the native one: x-native, the target being ≤ 3.
func BenchmarkCodec(b *testing.B) {
	w := sdktest.OpenWasm(b, wasmFile, nil)
	for _, bc := range loadBench(b) {
		var nativeNs float64
		b.Run(bc.name+"/native", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, isErr := sdk.Dispatch(bc.hook, bc.input); isErr {
					b.Fatal("guest error")
				}
			}
			nativeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(bc.name+"/wasm", func(b *testing.B) {
			for b.Loop() {
				if _, err := w.Call(bc.hook, bc.input); err != nil {
					b.Fatal(err)
				}
			}
			if nativeNs > 0 {
				wasmNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(wasmNs/nativeNs, "x-native")
			}
		})
	}
}
