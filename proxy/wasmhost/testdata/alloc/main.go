//go:build wasip1

// Command alloc is a fixture whose transform allocates without bound until
// the host's memory cap stops it. A batch of "ok" returns; a batch of
// "grow" keeps 8 MiB more alive per call, so linear memory passes the
// host's recycling threshold without hitting the cap.
package main

import (
	"runtime"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

var hoard [][]byte

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer runtime.Gosched()
	batch, _ := abi.Field(guest.Input(n), abi.FieldBatch)
	switch string(batch) {
	case "ok":
		return guest.Result(batch)
	case "grow":
		b := make([]byte, 8<<20)
		for i := range b {
			b[i] = byte(i)
		}
		hoard = append(hoard, b)
		return 0
	}
	for {
		b := make([]byte, 1<<20)
		b[len(b)-1] = 1
		hoard = append(hoard, b)
	}
}

func main() {}
