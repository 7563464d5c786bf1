//go:build wasip1

// Command garbage is a fixture whose transform returns nonsense chosen by
// its batch: a pointer past the end of memory ("oob"), an error flag on
// bytes that are not an error document ("baderr"), a length over the host's
// output limit ("huge"), or every bit set (anything else). "ok" returns
// the batch.
package main

import (
	"runtime"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

var (
	notJSON = []byte("this is not JSON")
	big     []byte
)

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer runtime.Gosched()
	batch, _ := abi.Field(guest.Input(n), abi.FieldBatch)
	switch string(batch) {
	case "ok":
		return guest.Result(batch)
	case "oob":
		return int64(abi.Pack(0xfff00000, 4096))
	case "baderr":
		r := guest.Result(notJSON)
		return r | int64(abi.ErrorFlag)
	case "huge":
		if big == nil {
			big = make([]byte, 2<<20)
		}
		return guest.Result(big)
	}
	return -1 // every bit set: pointer 0xffffffff, error flag, max length
}

func main() {}
