//go:build wasip1

// Command loop is a fixture whose transform never returns: only a deadline
// (wazero's WithCloseOnContextDone) can stop it. A batch of "ok" returns.
package main

import (
	"runtime"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

var sink uint64

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer runtime.Gosched()
	batch, _ := abi.Field(guest.Input(n), abi.FieldBatch)
	if string(batch) == "ok" {
		return guest.Result(batch)
	}
	for i := uint64(0); ; i++ {
		sink += i
	}
}

func main() {}
