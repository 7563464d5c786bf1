package plugins

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// wasmMagic starts every WebAssembly module: "\0asm" and version 1.
var wasmMagic = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

func TestEmbedded(t *testing.T) {
	names := Names()
	if !slices.Contains(names, "echo") {
		t.Fatalf("Names() = %v: echo is missing (run `make plugins`)", names)
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
	for _, name := range names {
		b, ok := Get(name)
		if !ok || !bytes.HasPrefix(b, wasmMagic) {
			t.Errorf("Get(%q): %d bytes, ok %v: not a wasm module", name, len(b), ok)
			continue
		}
		// What is embedded is what is on disk.
		disk, err := os.ReadFile(filepath.Join(name, name+".wasm"))
		if err != nil || !bytes.Equal(disk, b) {
			t.Errorf("Get(%q) differs from %s/%s.wasm (%v)", name, name, name, err)
		}
	}
	// Every plugin folder with a main.go has its module.
	mains, _ := filepath.Glob("*/main.go")
	for _, m := range mains {
		if name := filepath.Dir(m); !slices.Contains(names, name) {
			t.Errorf("plugins/%s has a main.go but no %s.wasm: run `make plugins`", name, name)
		}
	}
}

func TestGetRefusesOtherPaths(t *testing.T) {
	for _, name := range []string{"", "missing", "echo/echo", "../echo", "echo.wasm", "*"} {
		if b, ok := Get(name); ok {
			t.Errorf("Get(%q) = %d bytes, want nothing", name, len(b))
		}
	}
}
