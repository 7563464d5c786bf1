package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// TestCases runs every case under testdata/cases natively, then against
// echo.wasm in the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/echo -run TestCases -update
func TestCases(t *testing.T) {
	sdktest.Run(t, "testdata/cases", sdktest.Native(), sdktest.Wasm("echo.wasm"))
}

// TestNoAllocs keeps echo's hot path free of allocations: in wasm each one
// costs several times what it costs natively, and feeds the collector.
// Error paths may allocate (messages are formatted), and so does gjson when
// it reads a string with escapes (it unescapes it), so only the cases of
// the everyday path are held to zero.
func TestNoAllocs(t *testing.T) {
	allocs := sdktest.Allocs(t, "testdata/cases")
	for _, name := range []string{
		"decode_request/one_user",
		"encode_request/one_user", "encode_request/fan_out",
		"decode_response/all_ok",
		"encode_response/all_ok", "encode_response/partial",
	} {
		n, ok := allocs[name]
		switch {
		case !ok:
			t.Errorf("%s: no such success case", name)
		case n > 0:
			t.Errorf("%s: %.1f allocations per call, want 0", name, n)
		}
	}
}
