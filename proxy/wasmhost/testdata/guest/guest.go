//go:build wasip1

// Package guest is the smallest ABI v1 glue for the host's fixture modules.
// It exists so the fixtures depend on sdk/abi alone and each one can break
// exactly one rule of the ABI on purpose. Real plugins use the sdk package.
package guest

import (
	"runtime"
	"unsafe"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Kind is what imrelay_kind returns. A fixture sets it in init.
var Kind = abi.KindMiddleware

// Init, when set, runs in imrelay_init with the plugin's configuration.
var Init func(config []byte) error

var (
	in  []byte
	out []byte
)

// Input returns the first n bytes of the input buffer.
func Input(n int32) []byte { return in[:n] }

//go:wasmexport imrelay_abi_version
func version() int32 { return int32(abi.Version) }

//go:wasmexport imrelay_kind
func kind() int32 { return int32(Kind) }

//go:wasmexport imrelay_buffer
func buffer(n int32) int32 {
	if int(n) > cap(in) {
		in = make([]byte, n)
	}
	in = in[:cap(in)]
	return ptr(in)
}

//go:wasmexport imrelay_init
func initialize() int64 {
	defer runtime.Gosched()
	if Init == nil {
		return 0
	}
	if err := Init(Config()); err != nil {
		return Error(abi.CodeBadRequest, "config", err.Error())
	}
	return 0
}

// Config reads the plugin's configuration bytes from the host.
func Config() []byte {
	n := hostConfig(0, 0)
	b := make([]byte, n)
	if n > 0 {
		hostConfig(ptr(b), n)
	}
	return b
}

// Log writes one line through the host.
func Log(level int32, msg string) {
	hostLog(level, uint32(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), int32(len(msg)))
}

// Result packs b as a hook's output. b must stay reachable until the next
// call (keep it in a package variable).
func Result(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return int64(abi.Pack(uint32(ptr(b)), uint32(len(b))))
}

// Error packs a guest error document.
func Error(code abi.Code, field, msg string) int64 {
	e := abi.GuestError{Code: code, Field: field, Message: msg}
	out = e.AppendJSON(out[:0])
	return int64(abi.PackError(uint32(ptr(out)), uint32(len(out))))
}

func ptr(b []byte) int32 {
	if cap(b) == 0 {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmimport imrelay config
func hostConfig(ptr int32, cap int32) int32

//go:wasmimport imrelay log
func hostLog(level int32, ptr uint32, n int32)
