package wasmhost

import (
	"errors"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk/abi"
)

// Sentinel errors. Every error the package returns is an *Error that wraps
// one of these, so callers test with errors.Is and read the details with
// errors.As.
var (
	// ErrInvalidModule: the bytes are not a module this host can run: not
	// wasm, an import the host does not provide, a missing or mistyped
	// export, a wrong ABI version or kind.
	ErrInvalidModule = errors.New("wasmhost: invalid plugin module")
	// ErrInit: the plugin's imrelay_init refused its configuration.
	ErrInit = errors.New("wasmhost: plugin refused its configuration")
	// ErrGuest: the hook returned a guest error document (Error.Guest).
	// The instance is healthy and stays in the pool.
	ErrGuest = errors.New("wasmhost: plugin returned an error")
	// ErrTrap: the guest trapped, panicked or exited. The instance is
	// discarded.
	ErrTrap = errors.New("wasmhost: plugin crashed")
	// ErrDeadline: the call ran past its deadline (or its context was
	// cancelled) and was stopped. The instance is discarded.
	ErrDeadline = errors.New("wasmhost: plugin call stopped by its deadline")
	// ErrMemory: the guest hit the host's memory cap. The instance is
	// discarded.
	ErrMemory = errors.New("wasmhost: plugin ran out of memory")
	// ErrBadOutput: the packed result points outside guest memory, is longer
	// than the output limit, or flags an error that is not an error
	// document. The instance is discarded.
	ErrBadOutput = errors.New("wasmhost: plugin returned an invalid result")
	// ErrInput: the input is longer than a packed length can carry (2 GiB).
	ErrInput = errors.New("wasmhost: input too large")
	// ErrNoHook: the plugin's kind has no such hook.
	ErrNoHook = errors.New("wasmhost: plugin has no such hook")
	// ErrBusy: every instance stayed in use until the caller's context
	// ended.
	ErrBusy = errors.New("wasmhost: no plugin instance free")
	// ErrBackoff: the plugin crashed repeatedly and is refused for a while.
	ErrBackoff = errors.New("wasmhost: plugin backing off after repeated crashes")
	// ErrClosed: the plugin or the host was closed.
	ErrClosed = errors.New("wasmhost: plugin closed")
)

// Error is the error type of this package. It names the plugin and the
// operation, and wraps one sentinel above and, when there is one, the cause
// (a wazero error, an *abi.GuestError, a context error).
type Error struct {
	Plugin string // the plugin's name
	Op     string // "load", "init", "acquire" or the hook ("decode_request", ...)
	Kind   error  // one of the sentinel errors
	// Detail explains the failure in words: the missing export, the last
	// lines the guest wrote to stderr before it crashed (a Go panic), the
	// bad pointer.
	Detail string
	// Guest is the guest's own error document, for ErrGuest and ErrInit.
	Guest *abi.GuestError
	// Output is what the guest wrote to stdout and stderr during the failed
	// call (its first 4 KiB): a Go guest's panic message and stack.
	Output string
	cause  error
}

func (e *Error) Error() string {
	// wasmhost: plugin "trap": transform: plugin crashed: panic: ...
	var b strings.Builder
	b.WriteString("wasmhost: plugin ")
	b.WriteString(strconv.Quote(e.Plugin))
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "wasmhost: "))
	switch {
	case e.Guest != nil:
		b.WriteString(": ")
		b.WriteString(e.Guest.Error())
	case e.Detail != "":
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Guest != nil {
		errs = append(errs, e.Guest)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Code is the canonical code a client answer should carry: the guest's own
// code for ErrGuest and ErrInit, CodeBusy when no instance could be had,
// CodeInternal for every plugin fault.
func (e *Error) Code() abi.Code {
	switch {
	case e.Guest != nil:
		return e.Guest.Code
	case e.Kind == ErrBusy || e.Kind == ErrBackoff:
		return abi.CodeBusy
	}
	return abi.CodeInternal
}
