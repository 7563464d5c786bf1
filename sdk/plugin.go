// Package sdk is the guest SDK for imrelay plugins.
//
// A plugin author writes ordinary Go: a type that implements Codec (or
// Middleware) and a main package that registers it:
//
//	func init() { sdk.RegisterCodec(myCodec{}) }
//	func main() {}
//
// Built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (`make plugins`),
// the SDK provides every export of ABI v1, documented in package
// github.com/imrelay/imrelay/sdk/abi: the version and kind markers, the
// guest-owned input buffer (grown when needed, reused across calls),
// imrelay_init (which runs Init with the plugin's configuration), the hooks
// (each calls Dispatch and returns its packed output), and error documents.
// Every export yields to the Go scheduler before it returns, which the
// guest's garbage collector needs to finish its cycles; a plugin author
// does nothing for it. The host functions are Log, Logf and Config.
//
// Built natively, the same code runs through Dispatch, and Log and Config
// go to SetLogFunc and SetConfig: this is how sdk/sdktest runs a plugin's
// golden cases natively and then against its .wasm, and how a plugin is
// debugged with ordinary Go tools.
//
// # Reading and writing
//
// Read inputs with gjson, in place: Parse, Get and Fields view the input
// without copying it (gjson.ParseBytes and gjson.GetBytes copy). Write
// outputs with JSON, an append-only builder that escapes strings, reuses
// its buffer and copies input values as they are (JSON.Value). With both,
// a hook allocates nothing once warm, which matters in wasm: allocation
// and collection there cost several times what they cost natively.
// Requests and Reply frame the provider requests and the client's answer.
//
// # Errors
//
// A hook returns Error or BadField with a canonical code (abi.Code) and the
// field it is about in the client's terms; the inbound codec turns it into
// the client's own error format. A plain error becomes abi.CodeInternal. A
// panic, an output left with open containers or Requests used out of order
// also become a CodeInternal error naming the problem, natively and in wasm
// alike.
package sdk

import (
	"errors"
	"fmt"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Codec translates one dialect. Each method appends its output to out; out
// is reset by the SDK before the call and reused afterwards, so keep no
// reference to it. Inputs are views valid only during the call.
type Codec interface {
	// DecodeRequest turns a client HTTP request into a canonical batch.
	DecodeRequest(req *Request, out *JSON) error
	// EncodeRequest turns a canonical batch into provider requests.
	EncodeRequest(opts, batch []byte, out *Requests) error
	// DecodeResponse turns the provider's answers, one per encoded request
	// in the same order, into canonical results.
	DecodeResponse(opts, batch []byte, answers *Answers, out *JSON) error
	// EncodeResponse turns canonical results into the client's answer.
	// batch is empty when the request failed before it was decoded (results
	// then carry only the top-level "error").
	EncodeResponse(opts, batch, results, clientBody []byte, out *Reply) error
}

// Middleware transforms a canonical batch.
type Middleware interface {
	Transform(opts, batch []byte, out *JSON) error
}

// Init is implemented by a plugin that wants to check its configuration at
// load (ABI ExportInit). An error fails the load.
type Init interface {
	Init(config []byte) error
}

var (
	codec      Codec
	middleware Middleware
)

// RegisterCodec installs the plugin's codec. Call it once, from init.
func RegisterCodec(c Codec) { codec, middleware = c, nil }

// RegisterMiddleware installs the plugin's middleware. Call it once, from init.
func RegisterMiddleware(m Middleware) { middleware, codec = m, nil }

// Registered reports the kind of the registered plugin (0 if none).
func Registered() abi.Kind {
	switch {
	case codec != nil:
		return abi.KindCodec
	case middleware != nil:
		return abi.KindMiddleware
	}
	return 0
}

// Error returns a guest error with a canonical code, the field it is about in
// the client's own terms (may be empty) and a message.
func Error(code abi.Code, field, format string, args ...any) error {
	return &abi.GuestError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// BadField is Error(abi.CodeBadRequest, ...), the most common case.
func BadField(field, format string, args ...any) error {
	return Error(abi.CodeBadRequest, field, format, args...)
}

// asGuestError converts any error into the document the host will see.
func asGuestError(err error) *abi.GuestError {
	var ge *abi.GuestError
	if errors.As(err, &ge) {
		return ge
	}
	return &abi.GuestError{Code: abi.CodeInternal, Message: err.Error()}
}
