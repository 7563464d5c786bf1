package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/plugins"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// instMem is what runInstMem prints: the resident memory one more pooled
// instance of a codec costs.
type instMem struct {
	Plugin     string  `json:"plugin"`
	Instances  int     `json:"instances"`
	PerInstMiB float64 `json:"per_instance_mib"`
	BaseMiB    float64 `json:"base_mib"`
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// runInstMem loads a codec, then holds n instances at once (each has run
// one decode), and prints the RSS growth per instance beyond the first.
func runInstMem(args []string) error {
	fs := flag.NewFlagSet("instmem", flag.ContinueOnError)
	name := fs.String("plugin", "netease", "built-in `codec`")
	n := fs.Int("n", 16, "instances held at once")
	cache := fs.String("cache", "", "compilation cache `dir`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wasm, ok := plugins.Get(*name)
	if !ok {
		return fmt.Errorf("instmem: no built-in plugin %q", *name)
	}
	ctx := context.Background()
	h, err := wasmhost.New(wasmhost.Config{CacheDir: *cache})
	if err != nil {
		return fmt.Errorf("instmem: %w", err)
	}
	defer h.Close(ctx)
	p, err := h.Load(ctx, *name, wasm, wasmhost.Options{Kind: abi.KindCodec, MaxInstances: *n, MaxCalls: -1})
	if err != nil {
		return fmt.Errorf("instmem: %w", err)
	}
	input := []byte(`{"message":{"message_type":0,"text":"hello"}}`)
	use := func(in *wasmhost.Instance) {
		_, _ = in.Call(ctx, abi.HookDecodeRequest, input) // a guest error is fine: the memory is touched
	}
	first, err := p.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("instmem: %w", err)
	}
	use(first)
	runtime.GC()
	debug.FreeOSMemory()
	base := rssKB()
	held := []*wasmhost.Instance{first}
	for len(held) < *n {
		in, err := p.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("instmem: %w", err)
		}
		use(in)
		held = append(held, in)
	}
	runtime.GC()
	debug.FreeOSMemory()
	after := rssKB()
	for _, in := range held {
		p.Release(in)
	}
	out := instMem{Plugin: *name, Instances: *n, BaseMiB: float64(base) / 1024,
		PerInstMiB: float64(after-base) / 1024 / float64(*n-1)}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return nil
}
