package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
)

// wasmPath is the benchmark codec built by `make plugins`.
const wasmPath = "testdata/translate/translate.wasm"

var memCalls = flag.Int("memcalls", 100_000, "bench: translate calls in TestGuestMemoryCeiling (10,000 with -short)")

func init() { sdk.RegisterCodec(&Translator{}) }

// input returns the decode_request input frame carrying the sample, for
// impl "sdk" or "naive".
func input(impl string) []byte { return inputOf(impl, Sample) }

func inputOf(impl string, body []byte) []byte {
	opts := `{}`
	if impl != "sdk" {
		opts = `{"impl":"` + impl + `"}`
	}
	b := abi.AppendFrame(nil, abi.FieldBody+1)
	for _, f := range []string{opts, "POST", "/sender/v1/handleBusinessMessage", "", "application/json"} {
		b = abi.AppendFieldString(b, f)
	}
	return abi.AppendField(b, body)
}

func native(tb testing.TB, in []byte) []byte {
	tb.Helper()
	out, isErr := sdk.Dispatch(abi.HookDecodeRequest, in)
	if isErr {
		tb.Fatalf("native: %s", out)
	}
	return out
}

func decode(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestTwin checks the benchmarks measure what they claim: a 1 KB message,
// translated into the same canonical batch by both implementations,
// natively and in wasm.
func TestTwin(t *testing.T) {
	if n := len(Sample); n < 900 || n > 1200 {
		t.Fatalf("sample is %d bytes, the benchmarks claim 1 KB", n)
	}
	m := sdktest.OpenWasm(t, wasmPath, nil)
	nat := native(t, input("sdk"))
	want := decode(t, nat)
	msg := want.(map[string]any)["messages"].([]any)[0].(map[string]any)
	if len(msg["to"].(map[string]any)["users"].([]any)) != 8 || msg["ext"] == nil || msg["text"] == "" {
		t.Fatalf("the translation lost fields: %v", msg)
	}
	nat = append([]byte(nil), nat...)
	for _, impl := range []string{"sdk", "naive"} {
		if got := native(t, input(impl)); !reflect.DeepEqual(decode(t, got), want) {
			t.Errorf("%s native output differs:\n%s", impl, got)
		}
		out, err := m.Call(abi.HookDecodeRequest, input(impl))
		if err != nil {
			t.Fatalf("%s wasm: %v", impl, err)
		}
		if impl == "sdk" && !bytes.Equal(out, nat) {
			t.Errorf("sdk: wasm output differs from native:\n%s\n%s", out, nat)
		}
		if got := decode(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("%s wasm output differs:\n%s", impl, out)
		}
	}
	// A bad message is refused the same way by both.
	bad := inputOf("sdk", bytes.Replace(Sample, []byte(`"messageType": 1`), []byte(`"messageType": 11`), 1))
	if _, err := m.Call(abi.HookDecodeRequest, bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("messageType must be 1..10")) {
		t.Fatalf("wasm accepted messageType 11: %v", err)
	}
}

// TestSDKInWasm checks what only the wasm build of the SDK does: the
// configuration read through the host, a log line, and a panic turned into
// a guest error that leaves the instance usable.
func TestSDKInWasm(t *testing.T) {
	m := sdktest.OpenWasm(t, wasmPath, []byte(`{"k":"v"}`))
	out, err := m.Call(abi.HookDecodeRequest, input("probe"))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"config":"{\"k\":\"v\"}"}` {
		t.Fatalf("probe answered %s", out)
	}
	_, err = m.Call(abi.HookDecodeRequest, input("panic"))
	var ge *abi.GuestError
	if !errors.As(err, &ge) || ge.Code != abi.CodeInternal || !strings.Contains(ge.Message, "decode_request panicked: assignment to entry in nil map") {
		t.Fatalf("panic: %v", err)
	}
	if _, err := m.Call(abi.HookDecodeRequest, input("sdk")); err != nil {
		t.Fatalf("after a panic the instance fails: %v", err)
	}
	// The empty hook of BenchmarkEmptyHook answers an empty frame.
	out, err = m.Call(abi.HookEncodeRequest, emptyInput)
	if n, ferr := abi.Count(out); err != nil || ferr != nil || n != 0 {
		t.Fatalf("empty hook: %q, %v, %v", out, err, ferr)
	}
	// A hook the codec has not got is refused.
	if _, err := m.Call(abi.HookTransform, abi.AppendFrame(nil, 0)); err == nil {
		t.Fatal("transform on a codec succeeded")
	}
}

// TestGuestMemoryCeiling runs the translation 100,000 times on one wasm
// instance (never recycled) and asserts its linear memory stays under
// 16 MiB: the SDK's buffers are reused and every export yields to the Go
// scheduler, so the guest's GC keeps up. -short runs 10,000 calls;
// -memcalls sets the count.
func TestGuestMemoryCeiling(t *testing.T) {
	const ceiling = 16 << 20
	n := *memCalls
	if testing.Short() && n > 10_000 {
		n = 10_000
	}
	m := sdktest.OpenWasm(t, wasmPath, nil)
	in := input("sdk")
	start := m.MemorySize()
	for i := 0; i < n; i++ {
		if _, err := m.Call(abi.HookDecodeRequest, in); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	size := m.MemorySize()
	t.Logf("guest memory: %.1f MiB at start, %.1f MiB after %d calls (ceiling %d MiB)",
		float64(start)/(1<<20), float64(size)/(1<<20), n, ceiling>>20)
	if size > ceiling {
		t.Fatalf("guest memory grew to %.1f MiB after %d calls, over the %d MiB ceiling", float64(size)/(1<<20), n, ceiling>>20)
	}
}

// BenchmarkTranslate translates the 1 KB sample natively and in wasm, the
// SDK way and the naive way. Each wasm result reports its native baseline
// (native-ns/op) and the ratio (x-native); each naive result reports the
// ratio to the SDK way on the same target (x-sdk). Baselines are the
// figures of the earlier sub-benchmarks of the same run (timed on the spot
// when -bench filtered them out).
func BenchmarkTranslate(b *testing.B) {
	m := sdktest.OpenWasm(b, wasmPath, nil)
	once := map[string]func(){}
	for _, impl := range []string{"sdk", "naive"} {
		in := input(impl)
		once[impl+"/native"] = func() { sdk.Dispatch(abi.HookDecodeRequest, in) }
		once[impl+"/wasm"] = func() {
			if _, err := m.Call(abi.HookDecodeRequest, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	results := map[string]float64{}
	baseline := func(key string) float64 {
		if v, ok := results[key]; ok {
			return v
		}
		results[key] = nsPerOp(once[key])
		return results[key]
	}
	for _, impl := range []string{"sdk", "naive"} {
		for _, target := range []string{"native", "wasm"} {
			key := impl + "/" + target
			b.Run(key, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(Sample)))
				f := once[key]
				for b.Loop() {
					f()
				}
				ns := perOp(b)
				if target == "wasm" {
					nat := baseline(impl + "/native")
					b.ReportMetric(nat, "native-ns/op")
					b.ReportMetric(ns/nat, "x-native")
				}
				if impl == "naive" {
					b.ReportMetric(ns/baseline("sdk/"+target), "x-sdk")
				}
				results[key] = ns
			})
		}
	}
}

// emptyInput is an encode_request input the benchmark codec answers with
// no request: the SDK's fixed cost per hook call.
var emptyInput = func() []byte {
	b := abi.AppendFrame(nil, abi.FieldBatch+1)
	b = abi.AppendFieldString(b, "{}")
	return abi.AppendFieldString(b, `{"v":1,"messages":[]}`)
}()

// BenchmarkEmptyHook is the SDK's fixed cost per call: the host's
// buffer and hook calls, the input frame split, the yield to the Go
// scheduler and an empty output, against the same Dispatch natively.
func BenchmarkEmptyHook(b *testing.B) {
	m := sdktest.OpenWasm(b, wasmPath, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Call(abi.HookEncodeRequest, emptyInput); err != nil {
			b.Fatal(err)
		}
	}
	ns := perOp(b)
	nat := nsPerOp(func() { sdk.Dispatch(abi.HookEncodeRequest, emptyInput) })
	b.ReportMetric(nat, "native-ns/op")
	b.ReportMetric(ns/nat, "x-native")
}

// nsPerOp times f over at least 300 ms, after a warm-up.
func nsPerOp(f func()) float64 {
	for i := 0; i < 100; i++ {
		f()
	}
	for n := 1000; ; n *= 2 {
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			return float64(d.Nanoseconds()) / float64(n)
		}
	}
}

// perOp is the running benchmark's ns/op.
func perOp(b *testing.B) float64 {
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// Translating the sample the SDK way.
func Example() {
	var out sdk.JSON
	if err := decodeSDK(Sample, &out); err != nil {
		fmt.Println(err)
		return
	}
	var v struct {
		Messages []struct {
			Kind string
			To   struct{ Users, Groups []string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		fmt.Println(err)
		return
	}
	m := v.Messages[0]
	fmt.Println(len(Sample), "bytes in,", out.Len(), "bytes out:", m.Kind, "to", len(m.To.Users), "users and", len(m.To.Groups), "groups")
	// Output:
	// 998 bytes in, 939 bytes out: text to 8 users and 2 groups
}
