// Package wasmhost runs imrelay's WebAssembly plugins: the codecs and
// middlewares of ABI v1 (sdk/abi).
//
// A Host owns one wazero runtime (two when some plugins need deadlines), a
// compilation cache kept on disk, and every compiled module, compiled once
// per content hash. Load checks a module against the ABI before anything of
// it serves a request: its imports (WASI and the imrelay host functions,
// nothing else: no network, no files, no secrets), its exports and their
// signatures, its version marker and kind, and its init with the plugin's
// configuration. A failure names the plugin and the export.
//
// Each Plugin has a bounded pool of instances. A request pins one instance
// with Acquire for all its hook calls and gives it back with Release. An
// instance that traps, runs past its deadline, hits the memory cap or
// returns garbage is discarded, never reused; an instance is recycled after
// MaxCalls calls or once its linear memory passes RecycleMemory (wasm
// memory never shrinks); replacements are built in the background. A
// plugin that keeps crashing is refused for a growing back-off instead of
// burning a fresh instance per request.
//
// The hot path (Acquire, Call, Release with a warm instance) does not
// allocate; the tests hold it to that.
//
// README.md beside this file draws the pool's life cycle, lists the failure
// modes and what happens in each, and gives the measurements behind the
// defaults (deadlines off for trusted plugins, pool sizes, recycling).
package wasmhost
