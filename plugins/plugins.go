// Package plugins holds the plugin modules built into imrelay: every
// plugins/<name>/<name>.wasm, embedded at build time, so that
// `go build ./cmd/imrelay` alone gives a relay that can translate every
// dialect. The host loads them as bytes (proxy/wasmhost); nothing here is
// run natively.
//
// Each folder is one plugin: its Go source (a main package that registers
// a codec or middleware with the sdk package), its README, its golden
// cases and the .wasm built from them by `make plugins`. README.md in this
// folder says how to write, build and test one; plugins/echo is the
// smallest.
//
// This is the only non-plugin Go file in the folder. It uses the standard
// library only, so importing it costs the binary nothing but the modules.
package plugins

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed */*.wasm
var modules embed.FS

// Get returns the built module of the plugin called name ("echo",
// "netease"...), and whether there is one. The bytes are the binary's own:
// do not modify them.
func Get(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, false
	}
	b, err := modules.ReadFile(name + "/" + name + ".wasm")
	if err != nil {
		return nil, false
	}
	return b, true
}

// Names returns the names of the embedded plugins, sorted.
func Names() []string {
	entries, err := fs.Glob(modules, "*/*.wasm")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		dir, file := path.Split(e)
		name := strings.TrimSuffix(dir, "/")
		// Only <name>/<name>.wasm is a plugin; anything else in a folder
		// is not.
		if file == name+".wasm" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
