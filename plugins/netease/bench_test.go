package main

import (
	"testing"

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

// BenchmarkCodec times each case natively and in wasm and reports the wasm
// time as a multiple of the native one (x-native).
func BenchmarkCodec(b *testing.B) { sdktest.Bench(b, casesDir, wasmFile, benchCases...) }

// TestBenchCases is the benchmark's twin: the timed cases succeed and give
// the same bytes natively and in wasm.
func TestBenchCases(t *testing.T) { sdktest.Twin(t, casesDir, wasmFile, benchCases...) }
