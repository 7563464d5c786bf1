//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"

	"github.com/imrelay/imrelay/sdk/abi"
)

// This file is the guest side of ABI v1 (see sdk/abi): the exports the host
// calls and the host functions the guest imports. A plugin's main package
// only registers its codec or middleware; importing sdk brings these
// exports along (//go:wasmexport works from any package of the module being
// built).
//
// Every export calls runtime.Gosched before it returns (imrelay_buffer only
// when it allocated, see there). A c-shared Go module runs only while the
// host is inside one of its exports, and an export that never yields
// leaves the garbage collector's background mark workers, which are
// goroutines, no chance to run: a collection that starts is never
// finished, and linear memory grows with every call (739 MiB after 200k
// calls allocating 5 KB each, in our measurement, against 7 MiB when each
// call yields) instead of being collected and reused.

//go:wasmimport imrelay log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport imrelay config
func hostConfig(ptr unsafe.Pointer, capacity uint32) uint32

// Log writes one log line at level (abi.LogDebug, LogInfo, LogWarn,
// LogError). The host writes it, tagged with the plugin's name.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

var config struct {
	read  bool
	bytes []byte
}

// Config returns the plugin's configuration bytes, as given to the host
// when it loaded the plugin. They are read from the host once and kept; do
// not modify them.
// Call it from Init or a hook, not from a package's init function, which
// runs while the host is still instantiating the module.
func Config() []byte {
	if !config.read {
		n := hostConfig(nil, 0)
		b := make([]byte, n)
		if n > 0 {
			// The length is re-read: the copy is what the host wrote.
			b = b[:min(n, hostConfig(unsafe.Pointer(unsafe.SliceData(b)), n))]
		}
		config.bytes, config.read = b, true
	}
	return config.bytes
}

// input is the guest-owned buffer the host writes each hook's input into.
// It is reused across calls and only grows.
var input []byte

//go:wasmexport imrelay_abi_version
func exportVersion() uint32 {
	runtime.Gosched()
	return abi.Version
}

//go:wasmexport imrelay_kind
func exportKind() uint32 {
	runtime.Gosched()
	return uint32(Registered())
}

// exportBuffer is the one export that does not always yield: the host
// calls it right before the hook, which yields, and a yield costs about
// 1.5 µs in wasm (a goroutine switch unwinds the wasm stack). It yields
// when it allocated, the only work of its own the collector could need to
// catch up with.
//
//go:wasmexport imrelay_buffer
func exportBuffer(n uint32) uint32 {
	if uint64(n) > uint64(cap(input)) || input == nil {
		// Grow by a quarter more than asked, so a slowly growing input
		// does not reallocate on every call.
		input = make([]byte, max(uint64(n)+uint64(n)/4, 4096))
		runtime.Gosched()
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport imrelay_init
func exportInit() uint64 {
	var r uint64
	if err := initPlugin(Config()); err != nil {
		r = packError(err)
	}
	runtime.Gosched()
	return r
}

//go:wasmexport imrelay_decode_request
func exportDecodeRequest(n uint32) uint64 { return call(abi.HookDecodeRequest, n) }

//go:wasmexport imrelay_encode_request
func exportEncodeRequest(n uint32) uint64 { return call(abi.HookEncodeRequest, n) }

//go:wasmexport imrelay_decode_response
func exportDecodeResponse(n uint32) uint64 { return call(abi.HookDecodeResponse, n) }

//go:wasmexport imrelay_encode_response
func exportEncodeResponse(n uint32) uint64 { return call(abi.HookEncodeResponse, n) }

//go:wasmexport imrelay_transform
func exportTransform(n uint32) uint64 { return call(abi.HookTransform, n) }

// call runs one hook on the first n bytes of the input buffer and packs its
// output. The output stays in SDK-owned buffers until the next call.
func call(hook abi.Hook, n uint32) uint64 {
	var r uint64
	if uint64(n) > uint64(len(input)) {
		r = packError(Error(abi.CodeInternal, "", "sdk: %s input of %d bytes exceeds the %d-byte buffer", hook, n, len(input)))
	} else {
		out, isErr := Dispatch(hook, input[:n])
		r = pack(out, isErr)
	}
	runtime.Gosched()
	return r
}

func pack(out []byte, isErr bool) uint64 {
	if len(out) > abi.MaxLen {
		return packError(Error(abi.CodeInternal, "", "sdk: output of %d bytes is too large", len(out)))
	}
	ptr := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out))))
	if isErr {
		return abi.PackError(ptr, uint32(len(out)))
	}
	if len(out) == 0 {
		return 0
	}
	return abi.Pack(ptr, uint32(len(out)))
}

// packError packs err as an error document kept in the SDK's buffers.
func packError(err error) uint64 {
	st.out = asGuestError(err).AppendJSON(st.out[:0])
	return pack(st.out, true)
}
