//go:build wasip1

// Command trap is a fixture whose transform panics (an index out of range),
// which ends the guest with a Go panic: the host must discard the instance.
// A batch of "ok" returns normally, so tests can mix good and bad calls.
package main

import (
	"runtime"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

var table = []int{1, 2, 3}

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer runtime.Gosched()
	batch, _ := abi.Field(guest.Input(n), abi.FieldBatch)
	if string(batch) == "ok" {
		return guest.Result(batch)
	}
	i := len(batch) + 10
	return int64(table[i])
}

func main() {}
