//go:build wasip1

// Command badexport is a fixture that declares itself a codec but exports
// imrelay_decode_request with the wrong signature and has no
// imrelay_encode_response at all: the host must refuse it at load and name
// the export.
package main

import (
	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/guest"
	"github.com/imrelay/imrelay/sdk/abi"
)

func init() { guest.Kind = abi.KindCodec }

//go:wasmexport imrelay_decode_request
func decodeRequest(n int64) int32 { return 0 }

//go:wasmexport imrelay_encode_request
func encodeRequest(n int32) int64 { return 0 }

//go:wasmexport imrelay_decode_response
func decodeResponse(n int32) int64 { return 0 }

func main() {}
