package wasmhost_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Load a plugin, pin an instance for one request and call a hook.
func Example() {
	ctx := context.Background()
	h, err := wasmhost.New(wasmhost.Config{
		CacheDir: wasmhost.DefaultCacheDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)

	wasm, err := os.ReadFile("testdata/echo/echo.wasm")
	if err != nil {
		panic(err)
	}
	p, err := h.Load(ctx, "echo", wasm, wasmhost.Options{Kind: abi.KindMiddleware})
	if err != nil {
		panic(err) // names the plugin and the missing or mistyped export
	}
	defer p.Close(ctx)

	in, err := p.Acquire(ctx)
	if err != nil {
		panic(err) // ErrBusy, ErrBackoff or ErrClosed
	}
	defer p.Release(in)

	input := abi.AppendFrame(nil, 2)
	input = abi.AppendFieldString(input, `{}`)                // abi.FieldOptions
	input = abi.AppendFieldString(input, `[{"kind":"text"}]`) // abi.FieldBatch
	out, err := in.Call(ctx, abi.HookTransform, input)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Kind(), string(out))
	// Output: middleware [{"kind":"text"}]
}

// A guest that panics fails its call with an error that says why; the
// instance is discarded and the next Acquire gets a fresh one.
func Example_crash() {
	ctx := context.Background()
	h, _ := wasmhost.New(wasmhost.Config{CacheDir: wasmhost.DefaultCacheDir()})
	defer h.Close(ctx)
	wasm, _ := os.ReadFile("testdata/trap/trap.wasm")
	p, err := h.Load(ctx, "trap", wasm, wasmhost.Options{})
	if err != nil {
		panic(err)
	}
	in, _ := p.Acquire(ctx)
	input := abi.AppendFrame(nil, 2)
	input = abi.AppendFieldString(input, `{}`)
	input = abi.AppendFieldString(input, `[]`)
	_, err = in.Call(ctx, abi.HookTransform, input)
	p.Release(in)
	fmt.Println(err)
	fmt.Println(err.(*wasmhost.Error).Code())
	// Output:
	// wasmhost: plugin "trap": transform: plugin crashed: panic: runtime error: index out of range [12] with length 3 (wasm error: unreachable)
	// internal
}
