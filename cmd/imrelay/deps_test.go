package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/imrelay/imrelay"

// importRule says which of the module's own packages, and which third-party
// modules, the packages under a prefix may import in non-test code. Rules are
// matched by the longest prefix. Standard library imports are always allowed.
type importRule struct {
	prefix string   // package path relative to the module root
	own    []string // allowed in-module prefixes ("" matches nothing)
	third  []string // allowed third-party import prefixes
	// onlyFrom lists the only in-module packages that may import this one
	// (nil: anyone the rules above allow).
	onlyFrom []string
}

var rules = []importRule{
	// The ABI is the leaf both sides share: standard library only.
	{prefix: "sdk/abi"},
	// The guest SDK: the ABI and the JSON readers, nothing of the host.
	{prefix: "sdk", own: []string{"sdk/abi"}, third: []string{"github.com/tidwall/"}},
	// The SDK's benchmarks compare it with a naive gjson+sjson translation.
	{prefix: "sdk/bench", own: []string{"sdk"}, third: []string{"github.com/tidwall/"}},
	// The test kit runs plugins natively and through the real host.
	{prefix: "sdk/sdktest", own: []string{"sdk", "proxy/wasmhost"}, third: []string{"github.com/tidwall/", "github.com/tetratelabs/wazero"}},
	// Plugins are guests: SDK and JSON readers only, plus the code some
	// codecs share (plugins/internal, which Go keeps to plugins/).
	{prefix: "plugins/", own: []string{"sdk", "plugins/internal/"}, third: []string{"github.com/tidwall/"}},
	// The embedded modules: bytes only, and only the command (and the
	// benchmarks, which start the relay) wire them in.
	{prefix: "plugins", onlyFrom: []string{"cmd/", "bench"}},
	// Credential schemes are shared by the relay and the sandbox: stdlib only.
	{prefix: "proxy/auth"},
	// The plugin host knows the ABI and wazero, not the SDK or the relay.
	{prefix: "proxy/wasmhost", own: []string{"sdk/abi"}, third: []string{"github.com/tetratelabs/wazero"}},
	// The relay: its own packages and the ABI; never the sandbox, the
	// plugins, the SDK or the command.
	{prefix: "proxy", own: []string{"proxy", "sdk/abi"}, third: []string{
		"github.com/tetratelabs/wazero", "github.com/valyala/", "github.com/tidwall/",
		"github.com/hashicorp/golang-lru/", "golang.org/x/sync/", "gopkg.in/yaml.v3",
		"github.com/prometheus/",
	}},
	// The emulators may use the credential schemes, nothing else of the relay.
	{prefix: "sandbox", own: []string{"sandbox", "proxy/auth"}, third: []string{"github.com/valyala/", "github.com/tidwall/"}},
	// The command wires everything together; nothing imports it.
	{prefix: "cmd/", own: []string{"proxy", "sdk", "sandbox", "plugins"}, third: []string{"*"}, onlyFrom: []string{}},
	{prefix: "bench", own: []string{"proxy", "sdk", "sandbox", "plugins"}, third: []string{"*"}, onlyFrom: []string{}},
}

// matches reports whether pkg falls under prefix: "p/" matches packages
// strictly below p, "p" matches p and everything below it, "*" matches all.
func matches(pkg, prefix string) bool {
	switch {
	case prefix == "*":
		return true
	case strings.HasSuffix(prefix, "/"):
		return strings.HasPrefix(pkg, prefix)
	default:
		return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
	}
}

// ruleFor returns the rule with the longest prefix that matches pkg.
func ruleFor(pkg string) *importRule {
	var best *importRule
	for i := range rules {
		r := &rules[i]
		if matches(pkg, r.prefix) && (best == nil || len(r.prefix) > len(best.prefix)) {
			best = r
		}
	}
	return best
}

func hasPrefixIn(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if matches(pkg, p) {
			return true
		}
	}
	return false
}

// TestImportDirection enforces the import rules of STYLE.md:
// cmd → proxy → proxy/wasmhost → sdk/abi; plugins → sdk; sandbox may use
// proxy/auth; nothing imports cmd, bench or the plugins.
func TestImportDirection(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-e", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	importers := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		n++
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		r := ruleFor(pkg)
		if r == nil {
			t.Errorf("package %q has no import rule: add one in deps_test.go", pkg)
			continue
		}
		for _, imp := range f[1:] {
			switch {
			case imp == module || strings.HasPrefix(imp, module+"/"):
				dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				importers[dep] = append(importers[dep], pkg)
				if !hasPrefixIn(dep, r.own) {
					t.Errorf("%s imports %s: not allowed (rule %q allows %v)", pkg, dep, r.prefix, r.own)
				}
			case !strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				// standard library
			default:
				if !hasPrefixIn(imp, r.third) {
					t.Errorf("%s imports %s: third-party import not allowed by rule %q", pkg, imp, r.prefix)
				}
			}
		}
	}
	if n < 3 {
		t.Fatalf("go list returned %d packages; the test is not looking at the module", n)
	}
	for dep, from := range importers {
		r := ruleFor(dep)
		if r == nil || r.onlyFrom == nil {
			continue
		}
		for _, p := range from {
			if !hasPrefixIn(p, r.onlyFrom) {
				t.Errorf("%s is imported by %s; only %v may import it", dep, p, r.onlyFrom)
			}
		}
	}
}

// TestRuleMatching checks the matcher the import test relies on.
func TestRuleMatching(t *testing.T) {
	cases := map[string]string{
		"sdk/abi":          "sdk/abi",
		"sdk":              "sdk",
		"sdk/sdktest":      "sdk/sdktest",
		"plugins":          "plugins",
		"plugins/echo":     "plugins/",
		"proxy":            "proxy",
		"proxy/config":     "proxy",
		"proxy/auth":       "proxy/auth",
		"proxy/wasmhost":   "proxy/wasmhost",
		"sandbox/youdu":    "sandbox",
		"cmd/imrelay":      "cmd/",
		"sandboxes":        "",
		"proxy/authority":  "proxy",
		"bench/peers/njsx": "bench",
	}
	for pkg, want := range cases {
		r := ruleFor(pkg)
		got := ""
		if r != nil {
			got = r.prefix
		}
		if got != want {
			t.Errorf("ruleFor(%q) = %q, want %q", pkg, got, want)
		}
	}
	if hasPrefixIn("proxyx", []string{"proxy"}) {
		t.Error("hasPrefixIn must match whole path elements")
	}
}
