package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestWasmFlagsMatchMakefile keeps `imrelay plugin build` and `make
// plugins` building the same bytes: the Makefile's WASMFLAGS, split as
// the shell splits them, must be wasmBuildFlags.
func TestWasmFlagsMatchMakefile(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^WASMFLAGS\s*:?=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile has no WASMFLAGS line")
	}
	got := shellSplit(string(m[1]))
	if !slices.Equal(got, wasmBuildFlags) {
		t.Errorf("Makefile WASMFLAGS = %q, plugin build uses %q: make them equal", got, wasmBuildFlags)
	}
	if !bytes.Contains(mk, []byte("GOOS=wasip1 GOARCH=wasm $(GO) build $(WASMFLAGS)")) {
		t.Error("the Makefile no longer builds plugins with GOOS=wasip1 GOARCH=wasm $(GO) build $(WASMFLAGS)")
	}
}

// shellSplit splits words as sh does for the simple quoting the Makefile
// uses: single quotes only.
func shellSplit(s string) []string {
	var words []string
	var cur strings.Builder
	in, inQuote := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote, in = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

func TestShellSplit(t *testing.T) {
	got := shellSplit(`-a  -b='x y' c''d`)
	if want := []string{"-a", "-b=x y", "cd"}; !slices.Equal(got, want) {
		t.Errorf("shellSplit = %q, want %q", got, want)
	}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := doMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPluginNewRefuses(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plugin", "new"}, 2, "usage"},
		{[]string{"plugin", "new", "Bad-Name", "-dir", filepath.Join(dir, "a")}, 2, "lowercase"},
		{[]string{"plugin", "new", "ok", "-kind", "filter", "-dir", filepath.Join(dir, "b")}, 2, "codec or middleware"},
		{[]string{"plugin", "new", "ok", "-dir", full}, 1, "not empty"},
		{[]string{"plugin", "frob"}, 2, "unknown command"},
		{[]string{"plugin", "build", dir}, 1, "no main.go"},
		{[]string{"plugin", "test", filepath.Join(dir, "none.wasm"), dir}, 1, "no case files"},
	} {
		code, _, stderr := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// TestPluginIdmapCases runs the committed idmap plugin's cases through
// `plugin test`: a module built by `make plugins` passes them all.
func TestPluginIdmapCases(t *testing.T) {
	dir := filepath.Join("..", "..", "plugins", "idmap")
	code, stdout, stderr := run(t, "plugin", "test", filepath.Join(dir, "idmap.wasm"), filepath.Join(dir, "testdata", "cases"))
	if code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(stdout) {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestPluginToolkit is the author's path end to end, for each kind: scaffold
// outside the repository, make it a module that requires imrelay (replaced
// by this checkout), build it with `plugin build`, run its cases with
// `plugin test` (passing, then failing with a diff), and run its own go test,
// natively and as wasm.
func TestPluginToolkit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two wasm modules")
	}
	_, root, err := enclosingModule(".")
	if err != nil || root == "" {
		t.Fatalf("no module root: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for _, kind := range []string{"middleware", "codec"} {
		t.Run(kind, func(t *testing.T) {
			name := "my" + kind
			dir := filepath.Join(t.TempDir(), name)
			code, stdout, stderr := run(t, "plugin", "new", name, "-kind", kind, "-dir", dir)
			if code != 0 {
				t.Fatalf("plugin new: exit %d: %s", code, stderr)
			}
			for _, f := range []string{"main.go", "README.md", name + "_test.go"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("plugin new did not write %s", f)
				}
			}
			if !strings.Contains(stdout, "is in no Go module") {
				t.Errorf("plugin new outside a module does not say how to make one:\n%s", stdout)
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			for _, h := range []string{"## Name", "## Description", "## Syntax", "## Examples"} {
				if !bytes.Contains(readme, []byte(h)) {
					t.Errorf("README.md lacks %q", h)
				}
			}

			gomod := "module example.com/" + name + "\n\ngo 1.26\n\nrequire " + sdkModule + " v0.0.0\n\nreplace " + sdkModule + " => " + filepath.ToSlash(root) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			// The module's go.sum holds every hash the scaffold needs, so
			// tidy checks them offline instead of asking the checksum
			// database, which CI may not reach.
			sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
				t.Fatal(err)
			}
			gocmd := func(args ...string) {
				t.Helper()
				cmd := exec.Command(goBin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			gocmd("mod", "tidy")

			code, stdout, stderr = run(t, "plugin", "build", dir)
			if code != 0 {
				t.Fatalf("plugin build: exit %d: %s", code, stderr)
			}
			wasm := filepath.Join(dir, name+".wasm")
			b, err := os.ReadFile(wasm)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if !strings.Contains(stdout, "sha256 "+hex.EncodeToString(sum[:])) || !strings.Contains(stdout, name+": {path: ") {
				t.Errorf("plugin build does not print the module's sha256 and a pin:\n%s", stdout)
			}

			cases := filepath.Join(dir, "testdata", "cases")
			code, stdout, stderr = run(t, "plugin", "test", wasm, cases)
			if code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(stdout) {
				t.Fatalf("plugin test of the scaffold: exit %d\n%s%s", code, stdout, stderr)
			}

			// The scaffold's own test: its cases natively, then as wasm.
			gocmd("test", ".")

			// Break one expectation: the case fails with a readable diff.
			files, _ := filepath.Glob(filepath.Join(cases, "*", "*.txt"))
			var broken string
			for _, f := range files {
				data, _ := os.ReadFile(f)
				if i := bytes.Index(data, []byte("-- want --\n")); i >= 0 && bytes.Contains(data[i:], []byte(`"text": "`)) {
					data = append(data[:i:i], bytes.Replace(data[i:], []byte(`"text": "`), []byte(`"text": "changed `), 1)...)
					if err := os.WriteFile(f, data, 0o644); err != nil {
						t.Fatal(err)
					}
					broken = f
					break
				}
			}
			if broken == "" {
				t.Fatal("no case with a text in its want section to break")
			}
			code, stdout, _ = run(t, "plugin", "test", wasm, cases)
			if code != 1 || !strings.Contains(stdout, "FAIL ") || !strings.Contains(stdout, "1 failed") ||
				!strings.Contains(stdout, broken) || !strings.Contains(stdout, "(-want +got)") || !strings.Contains(stdout, `"text": "changed `) {
				t.Errorf("plugin test with a broken case: exit %d, want 1 with a diff naming %s:\n%s", code, broken, stdout)
			}
		})
	}
}

// boolTestFlag defines a bool test flag, or shares it when a package the
// command imports defined it first: sdktest (imported for `plugin test`)
// defines -update, which then also rewrites this package's golden files.
func boolTestFlag(name, usage string) func() bool {
	f := flag.Lookup(name)
	if f == nil {
		b := flag.Bool(name, false, usage)
		return func() bool { return *b }
	}
	return func() bool { return f.Value.String() == "true" }
}

// TestScaffoldIsFormatted keeps the generated Go code gofmt-clean, so an
// author's first `make check` does not fail on code they did not write.
func TestScaffoldIsFormatted(t *testing.T) {
	for _, kind := range []string{"codec", "middleware"} {
		dir := filepath.Join(t.TempDir(), "fmt"+kind)
		if _, err := writeScaffold(dir, kind, "fmt"+kind); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) != 2 {
			t.Errorf("%s: %d Go files, want main.go and the test", kind, len(files))
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := format.Source(src)
			if err != nil {
				t.Errorf("%s: %v", f, err)
			} else if !bytes.Equal(got, src) {
				t.Errorf("%s scaffold %s is not gofmt-formatted", kind, filepath.Base(f))
			}
		}
	}
}
