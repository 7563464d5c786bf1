//go:build wasip1

// Command xlate is the host's benchmark fixture: its transform runs the
// translation of package xlate on the batch, and fixture_spin runs a tight
// loop, so the host can measure what wazero's WithCloseOnContextDone costs on
// JSON work and on pure computation.
//
// Its configuration picks the variant: "alloc" runs xlate.TranslateAlloc (a
// plugin that leaves garbage on every call); "yield=N" calls
// runtime.Gosched once every N calls instead of every call ("yield=0":
// never), so the host's tests can show what the SDK's Gosched is for.
package main

import (
	"runtime"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/xlate/xlate"
	"github.com/imrelay/imrelay/sdk/abi"
)

var (
	out        []byte
	alloc      bool
	yieldEvery = 1
	calls      int
)

func init() {
	guest.Init = func(config []byte) error {
		for _, opt := range strings.Fields(string(config)) {
			switch {
			case opt == "alloc":
				alloc = true
			case strings.HasPrefix(opt, "yield="):
				n, err := strconv.Atoi(opt[len("yield="):])
				if err != nil {
					return err
				}
				yieldEvery = n
			}
		}
		return nil
	}
}

//go:wasmexport imrelay_transform
func transform(n int32) int64 {
	defer yield()
	batch, err := abi.Field(guest.Input(n), abi.FieldBatch)
	if err != nil {
		return guest.Error(abi.CodeInternal, "", err.Error())
	}
	if alloc {
		out = xlate.TranslateAlloc(batch)
	} else {
		out = xlate.Translate(out[:0], batch)
	}
	return guest.Result(out)
}

func yield() {
	calls++
	if yieldEvery > 0 && calls%yieldEvery == 0 {
		runtime.Gosched()
	}
}

// fixture_spin runs a loop of n rounds of integer work and returns its sum.
//
//go:wasmexport fixture_spin
func spin(n int64) int64 {
	return xlate.Spin(n)
}

func main() {}
