package sdktest

import (
	"context"
	"log/slog"

	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// hostEngine runs modules in proxy/wasmhost, the relay's own host, with
// its on-disk compilation cache so a second test run does not recompile.
// This file is the only one that knows the host's API.
type hostEngine struct{ h *wasmhost.Host }

func newEngine(_ context.Context, logger *slog.Logger) (engine, error) {
	h, err := wasmhost.New(wasmhost.Config{CacheDir: wasmhost.DefaultCacheDir(), Logger: logger})
	if err != nil {
		return nil, err
	}
	return hostEngine{h}, nil
}

func (e hostEngine) load(ctx context.Context, name string, wasm, config []byte) (wasmPlugin, error) {
	// MaxCalls -1: never recycle, so a pinned instance shows the guest's
	// memory over its whole life.
	p, err := e.h.Load(ctx, name, wasm, wasmhost.Options{Config: config, MaxCalls: -1})
	if err != nil {
		return nil, err
	}
	return hostPlugin{p}, nil
}

func (e hostEngine) close(ctx context.Context) { e.h.Close(ctx) }

type hostPlugin struct{ p *wasmhost.Plugin }

// run is one request's worth of the relay's work: acquire an instance,
// call the hook, copy the output, release.
func (p hostPlugin) run(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	in, err := p.p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer p.p.Release(in)
	out, err := in.Call(ctx, hook, input)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out...), nil
}

func (p hostPlugin) pin(ctx context.Context) (pinned, error) {
	in, err := p.p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return hostPinned{p.p, in}, nil
}

func (p hostPlugin) close(ctx context.Context) { p.p.Close(ctx) }

type hostPinned struct {
	p  *wasmhost.Plugin
	in *wasmhost.Instance
}

func (h hostPinned) call(ctx context.Context, hook abi.Hook, input []byte) ([]byte, error) {
	return h.in.Call(ctx, hook, input)
}
func (h hostPinned) memorySize() uint32 { return h.in.MemorySize() }
func (h hostPinned) release()           { h.p.Release(h.in) }
