package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imrelay/imrelay/proxy/wasmhost/testdata/xlate/xlate"
	"github.com/imrelay/imrelay/sdk/abi"
)

// wantErr checks that err is an *Error of kind whose text has every part.
func wantErr(t *testing.T, err error, kind error, parts ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *wasmhost.Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q: kind %v, want %v", err, e.Kind, kind)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
	return e
}

func TestLoadRefusesBadModules(t *testing.T) {
	h, _ := newHost(t, Config{})
	ctx := context.Background()
	tests := []struct {
		name  string
		wasm  []byte
		opts  Options
		kind  error
		parts []string
	}{
		{"badexport", fixture(t, "badexport"), Options{}, ErrInvalidModule, []string{
			`plugin "badexport"`,
			"export imrelay_decode_request is (i64) -> i32, want (i32) -> i64",
			"missing export imrelay_encode_response (i32) -> i64",
		}},
		{"not-wasm", []byte("#!/bin/sh\necho hi\n"), Options{}, ErrInvalidModule, []string{`plugin "not-wasm"`, "compile"}},
		{"foreign-import", tinyModule(1, 2, "env", "socket"), Options{}, ErrInvalidModule, []string{
			"imports env.socket from a module the host does not provide",
		}},
		{"wasi-unknown", tinyModule(1, 2, "wasi_snapshot_preview1", "no_such_call"), Options{}, ErrInvalidModule, []string{
			"imports wasi_snapshot_preview1.no_such_call, which the host does not provide",
		}},
		{"imrelay-wrong-sig", tinyModule(1, 2, "imrelay", "config"), Options{}, ErrInvalidModule, []string{
			"imports imrelay.config as (i32) -> (), want (i32, i32) -> i32",
		}},
		{"version-2", tinyModule(2, 2, "", ""), Options{}, ErrInvalidModule, []string{
			"imrelay_abi_version returned 2: this host speaks ABI v1",
		}},
		{"kind-7", tinyModule(1, 7, "", ""), Options{}, ErrInvalidModule, []string{
			"imrelay_kind returned 7",
		}},
		{"codec-claims-transform", tinyModule(1, 1, "", ""), Options{}, ErrInvalidModule, []string{
			"missing export imrelay_decode_request",
		}},
		{"wrong-kind-for-route", fixture(t, "echo"), Options{Kind: abi.KindCodec}, ErrInvalidModule, []string{
			"plugin is a middleware, the route needs a codec",
		}},
		{"config-refused", fixture(t, "echo"), Options{Config: []byte("reject")}, ErrInit, []string{
			`plugin "config-refused": init`, `echo refuses the configuration "reject"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := h.Load(ctx, tt.name, tt.wasm, tt.opts)
			if p != nil {
				t.Fatalf("Load returned a plugin and %v", err)
			}
			wantErr(t, err, tt.kind, tt.parts...)
		})
	}
	t.Run("tiny-ok", func(t *testing.T) {
		p, err := h.Load(ctx, "tiny", tinyModule(1, 2, "", ""), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := transform(t, p, "x"); err != nil || out != "" {
			t.Fatalf("transform = %q, %v; want empty output", out, err)
		}
	})
}

func TestGuestError(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "echo", Options{})
	_, err := transform(t, p, "fail")
	e := wantErr(t, err, ErrGuest, `plugin "echo": transform`, "bad_request: messages[0].to: no recipient")
	if e.Code() != abi.CodeBadRequest || e.Guest.Field != "messages[0].to" {
		t.Errorf("code %s field %q, want bad_request messages[0].to", e.Code(), e.Guest.Field)
	}
	var ge *abi.GuestError
	if !errors.As(err, &ge) || ge.Message != "no recipient" {
		t.Errorf("errors.As(*abi.GuestError) = %v", ge)
	}
	// A guest error is an answer, not a fault: the instance stays.
	if out, err := transform(t, p, "again"); err != nil || out != "again" {
		t.Fatalf("after a guest error: %q, %v", out, err)
	}
	if out, err := p.Run(context.Background(), abi.HookTransform, batch("run")); err != nil || string(out) != "run" {
		t.Fatalf("Run: %q, %v", out, err)
	}
	if _, err := p.Run(context.Background(), abi.HookDecodeRequest, batch("x")); !errors.Is(err, ErrNoHook) {
		t.Fatalf("Run of a codec hook on a middleware: %v, want ErrNoHook", err)
	}
	if s := p.Stats(); s.Created != 1 || s.Faults != 0 || s.Idle != 1 || s.InUse != 0 || s.Memory == 0 {
		t.Errorf("stats %+v, want the one instance, idle, with its memory counted, and no fault", s)
	}
}

// TestConfigPerPlugin loads the same module twice with different
// configurations: each instance reads its own plugin's bytes.
func TestConfigPerPlugin(t *testing.T) {
	h, logs := newHost(t, Config{})
	one := load(t, h, "echo", Options{Config: []byte("alpha")})
	two, err := h.Load(context.Background(), "echo-two", fixture(t, "echo"), Options{Config: []byte("beta"), MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	if one.Hash() != two.Hash() || one.mod != two.mod {
		t.Fatalf("same bytes, different modules: %s %s", one.Hash(), two.Hash())
	}
	// A second instance of each reads its configuration again.
	ctx := context.Background()
	for _, p := range []*Plugin{one, two} {
		a, _ := p.Acquire(ctx)
		b, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(a)
		p.Release(b)
	}
	out := logs.String()
	for _, want := range []string{
		`msg="echo: config alpha" plugin=echo`,
		`msg="echo: config beta" plugin=echo-two`,
	} {
		if n := strings.Count(out, want); n != 2 {
			t.Errorf("%q logged %d times, want 2 (one per instance):\n%s", want, n, out)
		}
	}
	if strings.Contains(out, `alpha" plugin=echo-two`) || strings.Contains(out, `beta" plugin=echo `) {
		t.Errorf("a plugin read the other's configuration:\n%s", out)
	}
}

// faultCase is one fixture that breaks its instance.
type faultCase struct {
	fixture string
	batch   string
	cfg     Config
	opts    Options
	kind    error
	parts   []string
}

func TestFaultsDiscardTheInstance(t *testing.T) {
	tests := map[string]faultCase{
		"trap": {fixture: "trap", batch: "boom", kind: ErrTrap, parts: []string{
			`plugin "trap": transform: plugin crashed: panic: runtime error: index out of range [14] with length 3`,
		}},
		"loop": {fixture: "loop", batch: "spin", opts: Options{Timeout: 50 * time.Millisecond}, kind: ErrDeadline, parts: []string{
			`plugin "loop": transform`, "still running after 50ms",
		}},
		"alloc": {fixture: "alloc", batch: "all", cfg: Config{MemoryLimit: 32 << 20}, kind: ErrMemory, parts: []string{
			`plugin "alloc": transform: plugin ran out of memory`, "memory cap 33554432 bytes",
		}},
		"garbage-oob": {fixture: "garbage", batch: "oob", kind: ErrBadOutput, parts: []string{
			"result [0xfff00000, 0xfff01000) is outside memory",
		}},
		"garbage-flag": {fixture: "garbage", batch: "baderr", kind: ErrBadOutput, parts: []string{
			`error flag set on 16 bytes that are not an error document: "this is not JSON"`,
		}},
		"garbage-huge": {fixture: "garbage", batch: "huge", opts: Options{MaxOutput: 1 << 20}, kind: ErrBadOutput, parts: []string{
			"result of 2097152 bytes", "over the 1048576-byte output limit",
		}},
		"garbage-ones": {fixture: "garbage", batch: "-1", kind: ErrBadOutput, parts: []string{
			"result of 2147483647 bytes at 0xffffffff",
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h, _ := newHost(t, tt.cfg)
			tt.opts.MaxInstances = 1
			p := load(t, h, tt.fixture, tt.opts)
			ctx := context.Background()
			in, err := p.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = in.Call(ctx, abi.HookTransform, batch(tt.batch))
			e := wantErr(t, err, tt.kind, tt.parts...)
			if e.Code() != abi.CodeInternal {
				t.Errorf("code %s, want internal", e.Code())
			}
			if tt.kind == ErrDeadline && time.Since(start) > 5*time.Second {
				t.Errorf("the deadline took %s to stop the guest", time.Since(start))
			}
			// The broken instance refuses further calls with the same error.
			if _, err2 := in.Call(ctx, abi.HookTransform, batch("ok")); err2 != err {
				t.Errorf("second call on a broken instance: %v, want the first error", err2)
			}
			p.Release(in)
			// The pool serves again with a fresh instance.
			out, err := transform(t, p, "ok")
			if err != nil || out != "ok" {
				t.Fatalf("after the fault: %q, %v", out, err)
			}
			s := p.Stats()
			if s.Faults != 1 || s.Created != 2 || s.Live != 1 {
				t.Errorf("stats %+v, want 1 fault, 2 instances created, 1 live", s)
			}
		})
	}
}

func TestTrapReportsThePanic(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "trap", Options{})
	_, err := transform(t, p, "boom")
	e := wantErr(t, err, ErrTrap)
	if !strings.Contains(e.Output, "goroutine 1 [running]") || !strings.Contains(e.Output, "main.transform") {
		t.Errorf("Output does not carry the guest's stack:\n%s", e.Output)
	}
}

func TestCancelStopsGuardedCall(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "loop", Options{Guard: true})
	ctx, cancel := context.WithCancel(context.Background())
	in, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(in)
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = in.Call(ctx, abi.HookTransform, batch("spin"))
	wantErr(t, err, ErrDeadline, "the caller's context was cancelled")
}

func TestRecycle(t *testing.T) {
	t.Run("calls", func(t *testing.T) {
		h, _ := newHost(t, Config{})
		p := load(t, h, "echo", Options{MaxCalls: 3, MaxInstances: 1})
		ctx := context.Background()
		in, _ := p.Acquire(ctx)
		first := in
		for i := 0; i < 3; i++ {
			if _, err := in.Call(ctx, abi.HookTransform, batch("x")); err != nil {
				t.Fatal(err)
			}
		}
		p.Release(in)
		// With one slot, this Acquire waits for the background replacement.
		in, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if in == first || in.calls != 0 {
			t.Errorf("got the retired instance back (calls %d)", in.calls)
		}
		p.Release(in)
		if s := p.Stats(); s.Recycled != 1 || s.Created != 2 || s.Live != 1 || s.Faults != 0 {
			t.Errorf("stats %+v, want 1 recycled, 2 created, 1 live", s)
		}
	})
	t.Run("memory", func(t *testing.T) {
		h, _ := newHost(t, Config{})
		p := load(t, h, "alloc", Options{RecycleMemory: 20 << 20, MaxInstances: 1})
		ctx := context.Background()
		in, _ := p.Acquire(ctx)
		for in.MemorySize() <= 20<<20 {
			if _, err := in.Call(ctx, abi.HookTransform, batch("grow")); err != nil {
				t.Fatal(err)
			}
		}
		p.Release(in)
		in, _ = p.Acquire(ctx)
		if in.MemorySize() > 20<<20 {
			t.Errorf("memory %d after recycling, want a fresh instance", in.MemorySize())
		}
		p.Release(in)
		if s := p.Stats(); s.Recycled != 1 {
			t.Errorf("stats %+v, want 1 recycled", s)
		}
	})
}

func TestBackoff(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	h, logs := newHost(t, Config{now: func() time.Time { return time.Unix(0, now.Load()) }})
	p := load(t, h, "trap", Options{CrashLimit: 3, BackoffMin: time.Second, BackoffMax: 3 * time.Second})
	crash := func() {
		t.Helper()
		if _, err := transform(t, p, "boom"); !errors.Is(err, ErrTrap) {
			t.Fatalf("want a trap, got %v", err)
		}
	}
	refused := func(wait string) {
		t.Helper()
		_, err := p.Acquire(context.Background())
		e := wantErr(t, err, ErrBackoff, "3 crashes in a row; retrying in "+wait)
		if e.Code() != abi.CodeBusy {
			t.Errorf("code %s, want busy", e.Code())
		}
	}
	advance := func(d time.Duration) { now.Add(int64(d)) }

	crash()
	crash()
	if _, err := transform(t, p, "ok"); err != nil {
		t.Fatalf("two crashes must not open the back-off: %v", err)
	}
	crash()
	crash()
	crash() // third in a row since the success
	refused("1s")
	advance(999 * time.Millisecond)
	refused("1ms")
	advance(time.Millisecond)
	crash() // the probe fails: the wait doubles
	refused("2s")
	advance(2 * time.Second)
	crash()
	refused("3s") // capped at BackoffMax
	advance(3 * time.Second)
	if out, err := transform(t, p, "ok"); err != nil || out != "ok" {
		t.Fatalf("after the back-off: %q, %v", out, err)
	}
	crash() // a success closed the back-off: one crash is not enough again
	if _, err := transform(t, p, "ok"); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Backoffs != 3 {
		t.Errorf("stats %+v, want 3 back-offs", s)
	}
	if !strings.Contains(logs.String(), "plugin keeps crashing; backing off") {
		t.Errorf("no back-off log line in:\n%s", logs)
	}
}

func TestPoolBound(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "echo", Options{MaxInstances: 2})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	b, _ := p.Acquire(ctx)
	if a == nil || b == nil || a == b {
		t.Fatal("want two distinct instances")
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err := p.Acquire(short)
	e := wantErr(t, err, ErrBusy, "all 2 instances stayed in use", "deadline exceeded")
	if e.Code() != abi.CodeBusy {
		t.Errorf("code %s, want busy", e.Code())
	}
	// Whether the waiter blocks before or after the Release, it gets a.
	got := make(chan *Instance)
	go func() {
		in, _ := p.Acquire(ctx)
		got <- in
	}()
	p.Release(a)
	if in := <-got; in != a {
		t.Errorf("the waiter got %p, want the released %p", in, a)
	}
	if s := p.Stats(); s.Live != 2 || s.Created != 2 {
		t.Errorf("stats %+v, want 2 live, 2 created", s)
	}
	defer func() {
		if recover() == nil {
			t.Error("releasing an instance twice did not panic")
		}
	}()
	p.Release(b)
	p.Release(b)
}

// TestPoolConcurrent hammers one pool from many goroutines, with -race in
// CI: every answer is the caller's own input, and the pool never holds more
// than MaxInstances.
func TestPoolConcurrent(t *testing.T) {
	h, _ := newHost(t, Config{})
	const bound = 3
	p := load(t, h, "echo", Options{MaxInstances: bound, MaxCalls: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	var over atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				in, err := p.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for j := 0; j < 2; j++ {
					want := fmt.Sprintf("g%d-i%d-j%d", g, i, j)
					out, err := in.Call(ctx, abi.HookTransform, batch(want))
					if err != nil || string(out) != want {
						t.Errorf("got %q, %v; want %q", out, err, want)
					}
				}
				if i%10 == 0 {
					if _, err := in.Call(ctx, abi.HookTransform, batch("fail")); !errors.Is(err, ErrGuest) {
						t.Errorf("want a guest error, got %v", err)
					}
				}
				if s := p.Stats(); s.Live > bound || s.InUse > bound {
					over.Store(int64(max(s.Live, s.InUse)))
				}
				p.Release(in)
			}
		}()
	}
	wg.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("pool held %d instances, bound %d", n, bound)
	}
	s := p.Stats()
	if s.InUse != 0 || s.Live > bound {
		t.Errorf("stats %+v after every goroutine released: want none in use, at most %d live", s, bound)
	}
	if s.Recycled == 0 || s.Faults != 0 {
		t.Errorf("stats %+v: want recycling after 50 calls, no fault", s)
	}
}

// TestHotPathAllocs holds Acquire + Call + Release of a warm instance to
// zero allocations.
func TestHotPathAllocs(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "echo", Options{})
	ctx := context.Background()
	input := batch("hello")
	allocs := testing.AllocsPerRun(1000, func() {
		in, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Call(ctx, abi.HookTransform, input); err != nil {
			t.Fatal(err)
		}
		p.Release(in)
	})
	if allocs != 0 {
		t.Errorf("Acquire + Call + Release: %v allocations, want 0", allocs)
	}
}

// TestGuestMemoryCeiling runs 100k translations through one instance of a
// plugin that leaves garbage on every call, and asserts its linear memory
// stays under 16 MiB.
func TestGuestMemoryCeiling(t *testing.T) {
	const calls, ceiling = 100_000, 16 << 20
	h, _ := newHost(t, Config{})
	p := load(t, h, "xlate", Options{Config: []byte("alloc"), MaxCalls: -1, RecycleMemory: 1 << 30})
	ctx := context.Background()
	in, _ := p.Acquire(ctx)
	defer p.Release(in)
	input := batch(string(xlate.Sample))
	start := time.Now()
	for i := 0; i < calls; i++ {
		if _, err := in.Call(ctx, abi.HookTransform, input); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d calls in %s: linear memory %.1f MiB", calls, time.Since(start).Round(time.Millisecond), float64(in.MemorySize())/(1<<20))
	if in.MemorySize() > ceiling {
		t.Errorf("linear memory %d bytes after %d calls, ceiling %d", in.MemorySize(), calls, ceiling)
	}
}

func TestLogAndConfig(t *testing.T) {
	h, logs := newHost(t, Config{})
	p := load(t, h, "echo", Options{Config: []byte("route=a→b")})
	if !strings.Contains(logs.String(), `level=INFO msg="echo: config route=a→b" plugin=echo`) {
		t.Errorf("init did not log its configuration:\n%s", logs)
	}
	if _, err := transform(t, p, "log"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="echo: asked to log" plugin=echo`) {
		t.Errorf("no warn line:\n%s", logs)
	}
	if _, err := transform(t, p, "flood"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "echo: flood"); n != maxLogLines {
		t.Errorf("%d flood lines logged, want the limit %d", n, maxLogLines)
	}
	if !strings.Contains(logs.String(), "plugin log lines dropped") || !strings.Contains(logs.String(), "dropped=84") {
		t.Errorf("no drop report:\n%s", logs)
	}
	// The budget is per call.
	if _, err := transform(t, p, "log"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "echo: asked to log"); n != 2 {
		t.Errorf("%d lines after the flood, want 2", n)
	}
}

func TestCompileOncePerHash(t *testing.T) {
	h, _ := newHost(t, Config{})
	wasm := fixture(t, "echo")
	p1, err := h.Load(context.Background(), "one", wasm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := h.Load(context.Background(), "two", append([]byte(nil), wasm...), Options{Config: []byte("other")})
	if err != nil {
		t.Fatal(err)
	}
	if p1.mod != p2.mod || p1.mod.refs != 2 {
		t.Fatalf("same bytes compiled twice (refs %d)", p1.mod.refs)
	}
	// The loop fixture is compiled guarded by other tests already: cold
	// compiles under -race take half a minute each.
	p3 := load(t, h, "loop", Options{Guard: true})
	if p3.mod.rt == p1.mod.rt || p3.mod.rt != h.runtimes[1] || p1.mod.rt != h.runtimes[0] {
		t.Error("a guarded plugin shares the unguarded runtime")
	}
}

func TestCloseDrains(t *testing.T) {
	h, _ := newHost(t, Config{})
	p := load(t, h, "echo", Options{})
	ctx := context.Background()
	in, _ := p.Acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	wantErr(t, p.Close(short), ErrClosed, "instances still leased")
	if _, err := p.Acquire(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v, want ErrClosed", err)
	}
	// The leased instance still works until it is released.
	if out, err := in.Call(ctx, abi.HookTransform, batch("late")); err != nil || string(out) != "late" {
		t.Errorf("leased instance after Close: %q, %v", out, err)
	}
	p.Release(in)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Live != 0 {
		t.Errorf("stats %+v after Close, want nothing live", s)
	}
	h.mu.Lock()
	n, np := len(h.modules), len(h.plugins)
	h.mu.Unlock()
	if n != 0 || np != 0 {
		t.Fatalf("%d compiled modules and %d plugins still held after the last plugin closed", n, np)
	}
}
