package wasmhost

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/imrelay/imrelay/sdk/abi"
)

const wasiModule = "wasi_snapshot_preview1"

// Limits on what a guest may log, so a plugin that logs in a loop cannot
// flood the relay's log: lines are cut at maxLogLine bytes and at most
// maxLogLines are kept per call (or per instantiation); the rest are
// counted and reported in one line.
const (
	maxLogLine  = 2048
	maxLogLines = 16
)

// instantiateHostModule defines the imrelay host module (abi.ImportModule)
// in rt.
func (h *Host) instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(abi.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(h.hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").
		Export(abi.ImportLog).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(h.hostConfig), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "cap").
		Export(abi.ImportConfig).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("wasmhost: host module %s: %w", abi.ImportModule, err)
	}
	return nil
}

func (h *Host) instanceOf(mod api.Module) *Instance {
	v, ok := h.instances.Load(mod)
	if !ok {
		return nil
	}
	return v.(*Instance)
}

// hostLog implements abi.ImportLog: (level i32, ptr i32, len i32).
func (h *Host) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	in := h.instanceOf(mod)
	if in == nil {
		return
	}
	if in.logLines >= maxLogLines {
		in.logDropped++
		return
	}
	in.logLines++
	level := slog.Level(int32(uint32(stack[0])))
	switch {
	case level < slog.LevelDebug:
		level = slog.LevelDebug
	case level > slog.LevelError:
		level = slog.LevelError
	}
	if !h.logger.Enabled(ctx, level) {
		return
	}
	ptr, n := uint32(stack[1]), uint32(stack[2])
	cut := n > maxLogLine
	if cut {
		n = maxLogLine
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		h.logger.Warn("wasmhost: plugin logged from outside its memory", "plugin", in.p.name, "ptr", ptr, "len", n)
		return
	}
	msg := string(b)
	if cut {
		// Drop a rune the cut split in two.
		for i := 0; i < utf8.UTFMax-1 && len(msg) > 0; i++ {
			if r, size := utf8.DecodeLastRuneInString(msg); r != utf8.RuneError || size != 1 {
				break
			}
			msg = msg[:len(msg)-1]
		}
		msg += "…"
	}
	h.logger.Log(ctx, level, msg, "plugin", in.p.name)
}

// flushLogDrops reports the lines an instance dropped and resets its
// per-call log budget.
func (in *Instance) flushLogDrops() {
	if in.logDropped > 0 {
		in.p.h.logger.Warn("wasmhost: plugin log lines dropped", "plugin", in.p.name, "dropped", in.logDropped, "limit", maxLogLines)
	}
	in.logLines, in.logDropped = 0, 0
}

// hostConfig implements abi.ImportConfig: (ptr i32, cap i32) -> i32.
func (h *Host) hostConfig(_ context.Context, mod api.Module, stack []uint64) {
	in := h.instanceOf(mod)
	var cfg []byte
	if in != nil {
		cfg = in.p.config
	}
	ptr, capacity := uint32(stack[0]), uint32(stack[1])
	n := min(uint32(len(cfg)), capacity)
	if n > 0 && !mod.Memory().Write(ptr, cfg[:n]) {
		panic(fmt.Errorf("%s.%s: buffer [%d, %d) is outside guest memory", abi.ImportModule, abi.ImportConfig, ptr, uint64(ptr)+uint64(n)))
	}
	stack[0] = uint64(uint32(len(cfg)))
}
