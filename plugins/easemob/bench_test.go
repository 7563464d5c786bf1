package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// benchCases are the golden cases the benchmarks time: one message decoded
// and encoded per kind family, and both answers.
var benchCases = []string{
	"decode_request/users_txt",
	"decode_request/groups_img",
	"decode_request/legacy_txt",
	"encode_request/text_users",
	"encode_request/image",
	"encode_request/location",
	"decode_response/success",
	"encode_response/success_users",
}

const wasmFile = "easemob.wasm"

// BenchmarkCodec times each case natively and in wasm and reports the wasm
// time as a multiple of the native one (x-native).
func BenchmarkCodec(b *testing.B) { sdktest.Bench(b, caseDir, wasmFile, benchCases...) }

// TestBenchCases is the benchmark's twin: the timed cases succeed and give
// the same bytes natively and in wasm.
func TestBenchCases(t *testing.T) { sdktest.Twin(t, caseDir, wasmFile, benchCases...) }
