package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"

	"github.com/imrelay/imrelay/sdk/sdktest"
)

// The plugin toolkit: `imrelay plugin new|build|test`. It is what a plugin
// author needs besides Go: a working starting point, the exact build the
// relay's own plugins get, and the golden-case runner against any built
// module.

// sdkModule is the module a plugin's SDK import comes from.
const sdkModule = "github.com/imrelay/imrelay"

// wasmBuildFlags are the `go build` flags of every plugin, with
// GOOS=wasip1 GOARCH=wasm: a c-shared (reactor) module, no file paths, no
// VCS stamp, no symbols and no build id, so the same source always gives
// the same bytes and the same sha256. The Makefile's WASMFLAGS must say
// the same; TestWasmFlagsMatchMakefile checks it.
var wasmBuildFlags = []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-ldflags=-s -w -buildid="}

// scaffold holds the templates of `plugin new`, one folder per kind.
// Every file is a text/template executed with scaffoldData; "NAME" in a
// file name becomes the plugin's name and a ".tmpl" suffix is dropped.
//
//go:embed scaffold
var scaffold embed.FS

type scaffoldData struct {
	Name string
}

// pluginName is what a plugin may be called: it names its folder, its
// .wasm and its key in the relay's configuration.
var pluginName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func runPlugin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		pluginUsage(stderr)
		return 2
	}
	switch args[0] {
	case "new":
		return runPluginNew(args[1:], stdout, stderr)
	case "build":
		return runPluginBuild(args[1:], stdout, stderr)
	case "test":
		return runPluginTest(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		pluginUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "imrelay plugin: unknown command %q\n\n", args[0])
	pluginUsage(stderr)
	return 2
}

func pluginUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: imrelay plugin <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  new NAME [-kind codec|middleware] [-dir DIR]   scaffold a working plugin with tests and golden cases")
	fmt.Fprintln(w, "  build DIR                                      build DIR into DIR/<name>.wasm, reproducibly, and print its sha256")
	fmt.Fprintln(w, "  test FILE.wasm CASES                           run the golden cases under CASES against a built plugin")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The guide is docs/plugins.md in the imrelay repository.")
}

// runPluginNew implements `imrelay plugin new`.
func runPluginNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "middleware", "what to scaffold: codec or middleware")
	dir := fs.String("dir", "", "where to write it (default: plugins/NAME in the imrelay repository, ./NAME elsewhere)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imrelay plugin new NAME [-kind codec|middleware] [-dir DIR]")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	// Flags may come before or after NAME.
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	name := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if !pluginName.MatchString(name) {
		fmt.Fprintf(stderr, "imrelay plugin new: name %q: use lowercase letters, digits and _, starting with a letter\n", name)
		return 2
	}
	if *kind != "codec" && *kind != "middleware" {
		fmt.Fprintf(stderr, "imrelay plugin new: -kind %q: want codec or middleware\n", *kind)
		return 2
	}
	if *dir == "" {
		*dir = name
		if mod, root, _ := enclosingModule("."); mod == sdkModule && sameDir(root, ".") {
			*dir = filepath.Join("plugins", name)
		}
	}
	files, err := writeScaffold(*dir, *kind, name)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay plugin new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s, a %s plugin:\n", *dir, *kind)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintln(stdout)
	mod, _, _ := enclosingModule(*dir)
	switch {
	case mod == "":
		fmt.Fprintf(stdout, "%s is in no Go module. Make it one that requires the SDK:\n", *dir)
		fmt.Fprintf(stdout, "  cd %s && go mod init example.com/%s && go get %s@latest && go mod tidy\n\n", *dir, name, sdkModule)
	case mod != sdkModule:
		fmt.Fprintf(stdout, "%s is in module %s: it needs `require %s` in its go.mod\n", *dir, mod, sdkModule)
		fmt.Fprintf(stdout, "  (go get %s@latest && go mod tidy)\n\n", sdkModule)
	}
	build, pkg := *dir, filepath.ToSlash(filepath.Clean(*dir))
	if mod == "" {
		// The commands run in the new module, after the steps above.
		build, pkg = ".", "."
		fmt.Fprintln(stdout, "next, in "+*dir+":")
	} else {
		fmt.Fprintln(stdout, "next:")
		if !filepath.IsAbs(pkg) && !strings.HasPrefix(pkg, ".") {
			pkg = "./" + pkg
		}
	}
	fmt.Fprintf(stdout, "  imrelay plugin build %s\n", build)
	fmt.Fprintf(stdout, "  go test %s\n", pkg)
	return 0
}

// writeScaffold writes the templates of kind into dir, which must not
// exist or be empty, and returns the paths it wrote, relative to dir.
func writeScaffold(dir, kind, name string) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty", dir)
	}
	root := path.Join("scaffold", kind)
	var files []string
	err := fs.WalkDir(scaffold, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := scaffold.ReadFile(p)
		if err != nil {
			return err
		}
		tmpl, err := template.New(p).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("scaffold %s: %w", p, err)
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, scaffoldData{Name: name}); err != nil {
			return fmt.Errorf("scaffold %s: %w", p, err)
		}
		rel := strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(p, root+"/"), "NAME", name), ".tmpl")
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	return files, err
}

// enclosingModule returns the module path and root folder of the go.mod
// that holds dir ("" when there is none).
func enclosingModule(dir string) (mod, root string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			return modulePath(data), d, nil
		}
		if filepath.Dir(d) == d {
			return "", "", nil
		}
	}
}

// modulePath reads the module line of a go.mod.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

func sameDir(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

// runPluginBuild implements `imrelay plugin build DIR`.
func runPluginBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imrelay plugin build DIR")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Builds the plugin's main package in DIR into DIR/<name>.wasm, <name> being")
		fmt.Fprintln(stderr, "DIR's base name, with GOOS=wasip1 GOARCH=wasm go build "+strings.Join(quoteFlags(wasmBuildFlags), " "))
		fmt.Fprintln(stderr, "(the flags of `make plugins`), and prints the module's sha256 for plugins.files.")
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	out, sum, size, err := buildPlugin(dir, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay plugin build: %v\n", err)
		return 1
	}
	name := strings.TrimSuffix(filepath.Base(out), ".wasm")
	fmt.Fprintf(stdout, "built %s (%d bytes)\n", filepath.ToSlash(out), size)
	fmt.Fprintf(stdout, "sha256 %s\n\n", sum)
	fmt.Fprintln(stdout, "pin it in the relay's configuration:")
	fmt.Fprintln(stdout, "  plugins:")
	fmt.Fprintln(stdout, "    files:")
	fmt.Fprintf(stdout, "      %s: {path: %s, sha256: %s}\n", name, filepath.ToSlash(out), sum)
	return 0
}

// buildPlugin builds dir into dir/<base name of dir>.wasm and returns its
// path, its sha256 in hex and its size. The compiler's output goes to
// stderr.
func buildPlugin(dir string, stderr io.Writer) (out, sum string, size int, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", 0, err
	}
	if _, err := os.Stat(filepath.Join(abs, "main.go")); err != nil {
		return "", "", 0, fmt.Errorf("%s has no main.go: a plugin is a main package that registers a codec or middleware", dir)
	}
	name := filepath.Base(abs)
	if !pluginName.MatchString(name) {
		return "", "", 0, fmt.Errorf("folder name %q cannot name a plugin: use lowercase letters, digits and _, starting with a letter", name)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, append(append([]string{"build"}, wasmBuildFlags...), "-o", name+".wasm", ".")...)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", "", 0, fmt.Errorf("go build in %s: %w", dir, err)
	}
	out = filepath.Join(dir, name+".wasm")
	b, err := os.ReadFile(out)
	if err != nil {
		return "", "", 0, err
	}
	h := sha256.Sum256(b)
	return out, hex.EncodeToString(h[:]), len(b), nil
}

// quoteFlags writes flags as a shell would need them.
func quoteFlags(flags []string) []string {
	q := make([]string, len(flags))
	for i, f := range flags {
		if k, v, ok := strings.Cut(f, "="); ok && strings.ContainsRune(v, ' ') {
			f = k + "='" + v + "'"
		}
		q[i] = f
	}
	return q
}

// runPluginTest implements `imrelay plugin test FILE.wasm CASES`.
func runPluginTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "list the cases that pass too")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imrelay plugin test [-v] FILE.wasm CASES")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs every golden case (*.txt) under the folder CASES against the built plugin,")
		fmt.Fprintln(stderr, "loaded by the relay's own host, and prints a diff (-want +got) for each case")
		fmt.Fprintln(stderr, "that fails. The case format is the one of sdk/sdktest. Exit status 1 if any fails.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	wasm, dir := fs.Arg(0), fs.Arg(1)
	cases, err := sdktest.LoadCases(dir)
	if err == nil && len(cases) == 0 {
		err = fmt.Errorf("no case files (*.txt) under %s", dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "imrelay plugin test: %v\n", err)
		return 1
	}
	results, err := sdktest.Check(sdktest.Wasm(wasm), cases)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay plugin test: %v\n", err)
		return 1
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
		if r.Err != nil || *verbose {
			fmt.Fprintln(stdout, strings.TrimRight(r.String(), "\n"))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
