package wasmhost

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/imrelay/imrelay/sdk/abi"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// signature is a function type, written "(i32) -> i64" in errors.
type signature struct{ params, results []api.ValueType }

func (s signature) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range s.params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(t))
	}
	b.WriteString(") -> ")
	switch len(s.results) {
	case 0:
		b.WriteString("()")
	case 1:
		b.WriteString(api.ValueTypeName(s.results[0]))
	default:
		b.WriteByte('(')
		for i, t := range s.results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(api.ValueTypeName(t))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func sigOf(d api.FunctionDefinition) signature {
	return signature{d.ParamTypes(), d.ResultTypes()}
}

func (s signature) equal(o signature) bool {
	return string(s.params) == string(o.params) && string(s.results) == string(o.results)
}

// The exports every module must have, with their ABI v1 signatures.
var (
	baseExports = []struct {
		name string
		sig  signature
	}{
		{abi.ExportVersion, signature{nil, []api.ValueType{i32}}},
		{abi.ExportKind, signature{nil, []api.ValueType{i32}}},
		{abi.ExportBuffer, signature{[]api.ValueType{i32}, []api.ValueType{i32}}},
		{abi.ExportInit, signature{nil, []api.ValueType{i64}}},
	}
	hookSig  = signature{[]api.ValueType{i32}, []api.ValueType{i64}}
	startSig = signature{}
	allHooks = []abi.Hook{abi.HookDecodeRequest, abi.HookEncodeRequest, abi.HookDecodeResponse, abi.HookEncodeResponse, abi.HookTransform}
)

// checkModule checks a compiled module before anything of it runs: every
// import is one the host provides, with the same signature (so a plugin
// cannot ask for sockets, files or anything else the host does not give),
// and every ABI export present has the right signature. Which hooks must be
// present depends on the kind, checked once an instance reports it.
func (h *Host) checkModule(rt wazero.Runtime, m *module) error {
	var problems []string
	for _, imp := range m.compiled.ImportedFunctions() {
		mod, name, _ := imp.Import()
		provider := rt.Module(mod)
		if provider == nil || (mod != abi.ImportModule && mod != wasiModule) {
			problems = append(problems, fmt.Sprintf("imports %s.%s from a module the host does not provide (only %s and %s)", mod, name, wasiModule, abi.ImportModule))
			continue
		}
		want, ok := provider.ExportedFunctionDefinitions()[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("imports %s.%s, which the host does not provide", mod, name))
			continue
		}
		if got := sigOf(imp); !got.equal(sigOf(want)) {
			problems = append(problems, fmt.Sprintf("imports %s.%s as %s, want %s", mod, name, got, sigOf(want)))
		}
	}
	if n := len(m.compiled.ImportedMemories()); n > 0 {
		problems = append(problems, "imports a memory: a plugin must define its own")
	}
	if len(m.compiled.ExportedMemories()) == 0 {
		problems = append(problems, "exports no memory")
	}
	exports := m.compiled.ExportedFunctions()
	for _, e := range baseExports {
		d, ok := exports[e.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing export %s %s", e.name, e.sig))
		case !sigOf(d).equal(e.sig):
			problems = append(problems, fmt.Sprintf("export %s is %s, want %s", e.name, sigOf(d), e.sig))
		}
	}
	if d, ok := exports[abi.ExportStart]; ok {
		if !sigOf(d).equal(startSig) {
			problems = append(problems, fmt.Sprintf("export %s is %s, want %s", abi.ExportStart, sigOf(d), startSig))
		}
		m.hasStart = true
	}
	// Infer the intended kind from the hook names present, so a codec that
	// misses one hook is told so at once, even before it runs.
	var intended abi.Kind
	for _, k := range []abi.Kind{abi.KindCodec, abi.KindMiddleware} {
		for _, hook := range k.Hooks() {
			if _, ok := exports[hook.ExportName()]; ok && intended == 0 {
				intended = k
			}
		}
	}
	if intended == 0 {
		problems = append(problems, fmt.Sprintf("exports no hook: a codec needs %s, a middleware %s", hookList(abi.KindCodec), hookList(abi.KindMiddleware)))
	}
	m.hooks = map[abi.Hook]bool{}
	for _, hook := range allHooks {
		d, ok := exports[hook.ExportName()]
		if !ok {
			if intended != 0 && hookKind(hook) == intended {
				problems = append(problems, fmt.Sprintf("missing export %s %s (a %s exports every %s hook)", hook.ExportName(), hookSig, intended, intended))
			}
			continue
		}
		if !sigOf(d).equal(hookSig) {
			problems = append(problems, fmt.Sprintf("export %s is %s, want %s", hook.ExportName(), sigOf(d), hookSig))
			continue
		}
		m.hooks[hook] = true
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return &Error{Kind: ErrInvalidModule, Op: "load", Detail: strings.Join(problems, "; ")}
}

// checkKind checks the kind an instance reports against what the route
// expects and the hooks the module exports.
func (m *module) checkKind(got uint32, want abi.Kind) error {
	k := abi.Kind(got)
	if k != abi.KindCodec && k != abi.KindMiddleware {
		return &Error{Kind: ErrInvalidModule, Op: "load", Detail: fmt.Sprintf("%s returned %d, want %d (codec) or %d (middleware)", abi.ExportKind, got, abi.KindCodec, abi.KindMiddleware)}
	}
	if want != 0 && k != want {
		return &Error{Kind: ErrInvalidModule, Op: "load", Detail: fmt.Sprintf("plugin is a %s, the route needs a %s", k, want)}
	}
	var missing []string
	for _, hook := range k.Hooks() {
		if !m.hooks[hook] {
			missing = append(missing, fmt.Sprintf("missing export %s %s", hook.ExportName(), hookSig))
		}
	}
	if len(missing) > 0 {
		return &Error{Kind: ErrInvalidModule, Op: "load", Detail: fmt.Sprintf("a %s needs every %s hook: %s", k, k, strings.Join(missing, "; "))}
	}
	return nil
}

func hookList(k abi.Kind) string {
	var names []string
	for _, h := range k.Hooks() {
		names = append(names, h.ExportName())
	}
	return strings.Join(names, ", ")
}

func hookKind(h abi.Hook) abi.Kind {
	if h == abi.HookTransform {
		return abi.KindMiddleware
	}
	return abi.KindCodec
}
