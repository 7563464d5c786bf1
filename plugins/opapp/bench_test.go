package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// benchCases are the golden cases the benchmarks time: one message decoded
// and encoded per kind family, and both answers.
var benchCases = []string{
	"decode_request/txt_users",
	"decode_request/img_users",
	"decode_request/mixed_batch",
	"decode_request/batch_100",
	"encode_request/text_users_groups",
	"encode_request/every_kind",
	"encode_request/batch_100",
	"decode_response/partial",
	"decode_response/batch_100",
	"encode_response/partial",
	"encode_response/batch_100",
}

const wasmFile = "opapp.wasm"

// BenchmarkCodec times each case natively and in wasm and reports the wasm
// time as a multiple of the native one (x-native).
func BenchmarkCodec(b *testing.B) { sdktest.Bench(b, caseDir, wasmFile, benchCases...) }

// TestBenchCases is the benchmark's twin: the timed cases succeed and give
// the same bytes natively and in wasm.
func TestBenchCases(t *testing.T) { sdktest.Twin(t, caseDir, wasmFile, benchCases...) }
