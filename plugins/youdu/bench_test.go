package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// benchCases are the golden cases the benchmarks time: one message per
// hook, a plain and a richer one where it matters.
var benchCases = []string{
	"decode_request/text",
	"decode_request/mpnews",
	"encode_request/text",
	"encode_request/news_mpnews",
	"decode_response/success",
	"encode_response/ok",
	"encode_response/partial",
}

const wasmFile = "youdu.wasm"

// BenchmarkCodec times each case natively and in wasm and reports the wasm
// time as a multiple of the native one (x-native).
func BenchmarkCodec(b *testing.B) { sdktest.Bench(b, casesDir, wasmFile, benchCases...) }

// TestBenchCases is the benchmark's twin: the timed cases succeed and give
// the same bytes natively and in wasm.
func TestBenchCases(t *testing.T) { sdktest.Twin(t, casesDir, wasmFile, benchCases...) }
