package main

import (
	"testing"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// TestCases runs every case under testdata/cases natively, then against
// idmap.wasm in the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/idmap -run TestCases -update
func TestCases(t *testing.T) {
	sdktest.Run(t, "testdata/cases", sdktest.Native(), sdktest.Wasm("idmap.wasm"))
}

// TestNoAllocs keeps the everyday path free of allocations: lookups are
// map reads by the gjson view of each id, and the output builder reuses
// its buffer.
func TestNoAllocs(t *testing.T) {
	allocs := sdktest.Allocs(t, "testdata/cases")
	for _, name := range []string{"transform/users_and_groups", "transform/keep_unmapped"} {
		n, ok := allocs[name]
		switch {
		case !ok:
			t.Errorf("%s: no such success case", name)
		case n > 0:
			t.Errorf("%s: %.1f allocations per call, want 0", name, n)
		}
	}
}
