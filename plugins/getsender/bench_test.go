package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
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

// BenchmarkCodec times each case natively and in wasm and reports the wasm
// time as a multiple of the native one (x-native).
func BenchmarkCodec(b *testing.B) { sdktest.Bench(b, caseDir, wasmFile, benchCases...) }

// TestBenchCases is the benchmark's twin: the timed cases succeed and give
// the same bytes natively and in wasm.
func TestBenchCases(t *testing.T) { sdktest.Twin(t, caseDir, wasmFile, benchCases...) }
