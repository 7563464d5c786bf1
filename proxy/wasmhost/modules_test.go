package wasmhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedModulesLoad loads every committed module — the built-in
// plugins and this package's fixtures — into both runtimes, and checks that
// each passes the ABI checks at load except the one that must not. A
// module whose init refuses the empty configuration has passed them.
//
// `make test` runs it first without -race: it fills the shared compilation
// cache, so the -race run that follows (where the wazero compiler itself is
// instrumented and a cold compile takes 30-60 s per module) finds every
// module compiled.
func TestCommittedModulesLoad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "plugins", "*", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	fx, err := filepath.Glob(filepath.Join("testdata", "*", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 5 || len(fx) < 5 {
		t.Fatalf("found %d plugins and %d fixtures; the tree is missing its modules (make plugins)", len(paths), len(fx))
	}
	h, _ := newHost(t, Config{})
	ctx := context.Background()
	for _, p := range append(paths, fx...) {
		name := strings.TrimSuffix(filepath.Base(p), ".wasm")
		wasm, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, guard := range []bool{false, true} {
			if guard && !strings.HasPrefix(p, "testdata") {
				continue // plugins run guarded only when a route sets a timeout
			}
			pl, err := h.Load(ctx, name, wasm, Options{Guard: guard, MaxInstances: 1})
			if name == "badexport" {
				if !errors.Is(err, ErrInvalidModule) {
					t.Errorf("%s (guard %v): load error %v, want ErrInvalidModule", p, guard, err)
				}
				continue
			}
			if errors.Is(err, ErrInit) {
				continue // a valid module that needs a configuration (idmap)
			}
			if err != nil {
				t.Errorf("%s (guard %v): %v", p, guard, err)
				continue
			}
			pl.Close(ctx)
		}
	}
}
