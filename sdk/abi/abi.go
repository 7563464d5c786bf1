// Package abi is the one place where imrelay's plugin ABI v1 is defined.
//
// A plugin is a WebAssembly module (a Go program built with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared). The host (proxy/wasmhost) and the guest
// SDK (sdk) both import this package, so every name, number and byte layout
// below is shared by construction. It uses the standard library only.
//
// # Life of an instance
//
//  1. The host instantiates the module and calls `_initialize` (Go's reactor
//     entry point).
//  2. The host checks ExportVersion returns Version and ExportKind returns a
//     Kind whose hooks are all exported with the right signatures. A module
//     that fails any check is refused at load with an error naming the plugin
//     and the export.
//  3. The host calls ExportInit once. The plugin may read its configuration
//     bytes with the host function ImportConfig and reject them with an error
//     (packed as below), which fails the load.
//  4. For each hook call the host asks the guest for an input buffer with
//     ExportBuffer(n), writes n input bytes there, calls the hook with n and
//     reads the output the packed result points at.
//
// # Hook signatures
//
//	imrelay_abi_version() -> i32               returns Version
//	imrelay_kind()        -> i32               returns a Kind
//	imrelay_buffer(n i32) -> i32               pointer to >= n guest-owned bytes
//	imrelay_init()        -> i64               packed result, empty on success
//	imrelay_<hook>(n i32) -> i64               packed result; input is buffer[0:n]
//
// # Packed results
//
// Every hook returns one uint64. The output bytes live in guest memory and stay
// valid until the next call into the same instance; the host copies them out.
//
//	 63                              32 31 30                            0
//	+----------------------------------+--+-------------------------------+
//	|          pointer (u32)           |E |        length (u31)           |
//	+----------------------------------+--+-------------------------------+
//
// E (bit 31) set means the bytes are a guest error document (see GuestError),
// not the hook's output. A zero result is "success, no output".
//
// # Input and output documents
//
// Hook inputs are frames (see frame.go): a count followed by length-prefixed
// fields. Field order per hook is given by the Field constants below. Outputs
// are JSON documents in the canonical model (docs/canonical.md), except
// EncodeRequest and EncodeResponse, which return frames of HTTP requests and
// of the client's HTTP answer.
//
// Plugins get no network, no filesystem, no clock beyond WASI's and no
// secrets: the host signs, encrypts and sends every request itself.
package abi

// Version is the ABI version this package describes. A module whose
// ExportVersion returns anything else is refused.
const Version uint32 = 1

// Kind says which set of hooks a plugin implements.
type Kind uint32

const (
	// KindCodec translates one dialect in both directions: HookDecodeRequest,
	// HookEncodeRequest, HookDecodeResponse and HookEncodeResponse.
	KindCodec Kind = 1
	// KindMiddleware transforms canonical messages: HookTransform.
	KindMiddleware Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindCodec:
		return "codec"
	case KindMiddleware:
		return "middleware"
	}
	return "unknown"
}

// Hooks lists the hook exports a plugin of this kind must have.
func (k Kind) Hooks() []Hook {
	switch k {
	case KindCodec:
		return []Hook{HookDecodeRequest, HookEncodeRequest, HookDecodeResponse, HookEncodeResponse}
	case KindMiddleware:
		return []Hook{HookTransform}
	}
	return nil
}

// Exports every module has.
const (
	ExportVersion = "imrelay_abi_version" // () -> i32
	ExportKind    = "imrelay_kind"        // () -> i32
	ExportBuffer  = "imrelay_buffer"      // (n i32) -> i32
	ExportInit    = "imrelay_init"        // () -> i64 packed
	// ExportStart is Go's reactor initialiser, called once after instantiation.
	ExportStart = "_initialize"
)

// Hook identifies one translation hook. Its export is ExportName().
type Hook uint8

const (
	// HookDecodeRequest: client HTTP request -> canonical batch (JSON).
	// Input fields: FieldOptions, FieldMethod, FieldPath, FieldQuery,
	// FieldContentType, FieldBody.
	HookDecodeRequest Hook = iota + 1
	// HookEncodeRequest: canonical batch -> provider HTTP requests (a frame of
	// request frames, see RequestField*). Input: FieldOptions, FieldBatch.
	//
	// A FieldBatch input is always valid JSON: the host refuses a
	// decode_request or transform output that is not, as a fault of the
	// plugin that returned it, before another hook sees it.
	HookEncodeRequest
	// HookDecodeResponse: the provider's answers -> canonical results (JSON).
	// Input: FieldOptions, FieldBatch, FieldResponses (a frame of response
	// frames, see ResponseField*), in the order of the encoded requests.
	HookDecodeResponse
	// HookEncodeResponse: canonical results -> the client's HTTP answer (a
	// response frame: ResponseFieldStatus, ResponseFieldContentType,
	// ResponseFieldBody; ResponseFieldTag is empty). Input: FieldOptions,
	// FieldBatch (may be empty when the request failed before decoding),
	// FieldResults, FieldClientBody (the client's original body).
	HookEncodeResponse
	// HookTransform: canonical batch -> canonical batch. Input: FieldOptions,
	// FieldBatch.
	HookTransform
)

var hookNames = [...]string{
	HookDecodeRequest:  "imrelay_decode_request",
	HookEncodeRequest:  "imrelay_encode_request",
	HookDecodeResponse: "imrelay_decode_response",
	HookEncodeResponse: "imrelay_encode_response",
	HookTransform:      "imrelay_transform",
}

// ExportName is the wasm export that implements the hook: (n i32) -> i64.
func (h Hook) ExportName() string {
	if int(h) < len(hookNames) && h > 0 {
		return hookNames[h]
	}
	return ""
}

func (h Hook) String() string {
	if n := h.ExportName(); n != "" {
		return n[len("imrelay_"):]
	}
	return "unknown"
}

// Input field positions. Every hook input frame starts with FieldOptions: the
// route's options for this plugin as JSON, built once by the host at load
// (see docs/canonical.md, "Options"). It is `{}` when the route sets none.
const (
	FieldOptions = 0

	// HookDecodeRequest
	FieldMethod      = 1
	FieldPath        = 2 // raw path, still percent-encoded
	FieldQuery       = 3 // raw query string without '?'
	FieldContentType = 4
	FieldBody        = 5 // already decrypted by the host for enveloped dialects

	// HookEncodeRequest, HookDecodeResponse, HookEncodeResponse, HookTransform
	FieldBatch = 1

	// HookDecodeResponse
	FieldResponses = 2

	// HookEncodeResponse
	FieldResults    = 2
	FieldClientBody = 3
)

// Fields of one provider request inside HookEncodeRequest's output frame.
const (
	RequestFieldMethod      = 0
	RequestFieldPath        = 1 // path the host appends to the provider's base URL, percent-encoded
	RequestFieldQuery       = 2 // raw query without '?'; the host adds credentials itself
	RequestFieldContentType = 3
	RequestFieldBody        = 4 // plaintext; the host encrypts enveloped dialects
	// RequestFieldTag is opaque to the host and handed back with the answer
	// (ResponseFieldTag) so the codec knows which messages and recipients
	// the answer covers.
	RequestFieldTag = 5
	RequestFields   = 6
)

// Fields of one provider answer inside HookDecodeResponse's FieldResponses,
// and of the client answer HookEncodeResponse returns.
const (
	ResponseFieldTag = 0
	// ResponseFieldStatus is the HTTP status as decimal ASCII. "0" means the
	// request never got an answer; ResponseFieldBody then holds a GuestError
	// JSON document describing the transport failure (code timeout,
	// unavailable, ...), and the host guarantees nothing was delivered only
	// when the code is CodeNotSent.
	ResponseFieldStatus      = 1
	ResponseFieldContentType = 2
	ResponseFieldBody        = 3
	ResponseFields           = 4
)

// Log levels for ImportLog.
const (
	LogDebug int32 = -4
	LogInfo  int32 = 0
	LogWarn  int32 = 4
	LogError int32 = 8
)

// Host functions, imported from module ImportModule.
const (
	ImportModule = "imrelay"
	// ImportLog (level i32, ptr i32, len i32): writes one log line at level
	// (the slog levels above), tagged by the host with the plugin name.
	ImportLog = "log"
	// ImportConfig (ptr i32, cap i32) -> i32: copies up to cap bytes of the
	// plugin's configuration to ptr and returns the full length, so a guest
	// may call it with cap 0 first to size its buffer.
	ImportConfig = "config"
)

// ErrorFlag is bit 31 of a packed result: the bytes are a GuestError.
const ErrorFlag uint64 = 1 << 31

// MaxLen is the largest output length a packed result can carry.
const MaxLen = 1<<31 - 1

// Pack returns the packed result for bytes at ptr of length n.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n&MaxLen) }

// PackError returns the packed result for a GuestError document at ptr.
func PackError(ptr, n uint32) uint64 { return Pack(ptr, n) | ErrorFlag }

// Unpack splits a packed result.
func Unpack(v uint64) (ptr, n uint32, isErr bool) {
	return uint32(v >> 32), uint32(v & MaxLen), v&ErrorFlag != 0
}
