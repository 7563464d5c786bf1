package wasmhost

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces the host's side of STYLE.md's import rules: of this
// module, proxy/wasmhost imports sdk/abi alone (plugins reach it as bytes,
// never as packages), and its fixtures only sdk/abi and their own helpers.
func TestImports(t *testing.T) {
	const mod = "github.com/imrelay/imrelay/"
	check := func(dir string, imports []string, allowed ...string) {
		t.Helper()
		for _, imp := range imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || imp == mod+a
			}
			if !ok {
				t.Errorf("%s imports %s; allowed from this module: %v", dir, imp, allowed)
			}
		}
	}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	check("proxy/wasmhost", pkg.Imports, "sdk/abi")
	check("proxy/wasmhost (tests)", append(pkg.TestImports, pkg.XTestImports...),
		"sdk/abi", "proxy/wasmhost", "proxy/wasmhost/testdata/xlate/xlate")

	ctx := build.Default
	ctx.GOOS, ctx.GOARCH = "wasip1", "wasm"
	for _, dir := range []string{"guest", "echo", "xlate", "xlate/xlate", "trap", "loop", "alloc", "badexport", "garbage"} {
		pkg, err := ctx.ImportDir("testdata/"+dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		check("testdata/"+dir, pkg.Imports, "sdk/abi", "proxy/wasmhost/testdata/guest", "proxy/wasmhost/testdata/xlate/xlate")
	}
}
