package sdktest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
)

// timedCase is one golden case a benchmark times: a hook and its input.
type timedCase struct {
	name  string
	hook  abi.Hook
	input []byte
}

// loadTimed returns the named cases of dir (names as "<hook>/<file>"
// without .txt), failing tb when one is missing.
func loadTimed(tb testing.TB, dir string, names []string) []timedCase {
	tb.Helper()
	cases, err := LoadCases(dir)
	if err != nil {
		tb.Fatal(err)
	}
	byName := make(map[string]*Case, len(cases))
	for _, c := range cases {
		byName[c.Name] = c
	}
	out := make([]timedCase, 0, len(names))
	for _, name := range names {
		c, ok := byName[name]
		if !ok {
			tb.Fatalf("sdktest: no golden case %s in %s", name, dir)
		}
		h, err := c.Hook()
		if err != nil {
			tb.Fatal(err)
		}
		in, err := c.Input()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, timedCase{name, h, in})
	}
	return out
}

// Bench times the named golden cases of dir natively (sdk.Dispatch in the
// test binary, whose init registered the plugin) and in the plugin's .wasm
// (one pinned instance in the relay's host), and reports the wasm time as a
// multiple of the native one in the metric "x-native". Pair it with Twin,
// which checks that both sides do the same work.
func Bench(b *testing.B, dir, wasmPath string, names ...string) {
	w := OpenWasm(b, wasmPath, nil)
	for _, tc := range loadTimed(b, dir, names) {
		var nativeNs float64
		b.Run(tc.name+"/native", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out, isErr := sdk.Dispatch(tc.hook, tc.input); isErr {
					b.Fatalf("guest error: %s", out)
				}
			}
			nativeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(tc.name+"/wasm", func(b *testing.B) {
			for b.Loop() {
				if _, err := w.Call(tc.hook, tc.input); err != nil {
					b.Fatal(err)
				}
			}
			if nativeNs > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nativeNs, "x-native")
			}
		})
	}
}

// Twin is Bench's twin test: every case Bench times exists, succeeds, and
// gives the same bytes natively and in wasm, so the figures compare the same
// work.
func Twin(t *testing.T, dir, wasmPath string, names ...string) {
	t.Helper()
	w := OpenWasm(t, wasmPath, nil)
	for _, tc := range loadTimed(t, dir, names) {
		native, isErr := sdk.Dispatch(tc.hook, tc.input)
		if isErr {
			t.Fatalf("%s: native: %s", tc.name, native)
		}
		native = bytes.Clone(native)
		wasm, err := w.Call(tc.hook, tc.input)
		if err != nil {
			t.Fatalf("%s: wasm: %v", tc.name, err)
		}
		if !bytes.Equal(native, wasm) {
			t.Fatalf("%s: native and wasm outputs differ:\n%s\n%s", tc.name, native, wasm)
		}
	}
}

// Batch is a canonical batch a codec decodes a client request into: the
// expected output of one of its decode_request golden cases.
type Batch struct {
	Name string // "<dialect>/<case>"
	JSON string
}

// DecodedBatches returns the expected output of every successful
// decode_request case under root/<dialect>/decode_request. Each codec's own
// golden tests prove these are what its decoder produces natively and in
// wasm, so an encoder can be tested against every other dialect's batches
// without loading the other codecs.
func DecodedBatches(root string) ([]Batch, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "*", "decode_request"))
	if err != nil {
		return nil, err
	}
	var out []Batch
	for _, d := range dirs {
		cases, err := LoadCases(d)
		if err != nil {
			return nil, err
		}
		dialect := filepath.Base(filepath.Dir(d))
		for _, c := range cases {
			if want, ok := c.Value("want"); ok {
				out = append(out, Batch{Name: dialect + "/" + c.Name, JSON: want})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sdktest: no decode_request cases with a want under %s", root)
	}
	return out, nil
}
