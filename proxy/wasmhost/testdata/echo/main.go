//go:build wasip1

// Command echo is the host's healthy fixture: a middleware whose transform
// returns its batch unchanged, straight from the input buffer. Its init
// logs its configuration and refuses the configuration "reject"; with the
// configuration "cut" (bare or as a JSON string) transform returns its
// batch without the last byte: broken JSON. A batch of "log" logs a line,
// "flood" logs 100, "fail" returns a guest error.
package main

import (
	"errors"
	"runtime"
	"strings"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

func init() {
	guest.Init = func(config []byte) error {
		guest.Log(abi.LogInfo, "echo: config "+string(config))
		if string(config) == "reject" {
			return errors.New("echo refuses the configuration \"reject\"")
		}
		cut = strings.Trim(string(config), `"`) == "cut"
		return nil
	}
}

// cut: transform breaks its output (see the package comment).
var cut bool

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer runtime.Gosched()
	batch, err := abi.Field(guest.Input(n), abi.FieldBatch)
	if err != nil {
		return guest.Error(abi.CodeInternal, "", err.Error())
	}
	switch string(batch) {
	case "log":
		guest.Log(abi.LogWarn, "echo: asked to log")
	case "flood":
		for i := 0; i < 100; i++ {
			guest.Log(abi.LogInfo, "echo: flood")
		}
	case "fail":
		return guest.Error(abi.CodeBadRequest, "messages[0].to", "no recipient")
	}
	if cut && len(batch) > 0 {
		batch = batch[:len(batch)-1]
	}
	return guest.Result(batch)
}

// fixture_noop is the empty hook the host's benchmarks call: no input, no
// output, just the crossing and the SDK's Gosched.
//
//go:wasmexport fixture_noop
func noop() int64 {
	runtime.Gosched()
	return 0
}

func main() {}

// fixture_bare is fixture_noop without the Gosched: the bare crossing.
//
//go:wasmexport fixture_bare
func bare() int64 { return 0 }
