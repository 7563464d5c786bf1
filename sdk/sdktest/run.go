package sdktest

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
)

// update is -update. It is defined only in test binaries, so a command
// that imports sdktest for Check (`imrelay plugin test`) gets no stray
// flag; a test binary that defines -update itself must then share this one.
var update = updateFlag()

func updateFlag() *bool {
	if !testing.Testing() {
		return new(bool)
	}
	return flag.Bool("update", false, "sdktest: rewrite the want and want-error sections of golden cases with what the first target returns")
}

// Target is where Run runs a plugin's cases: natively (Native) or as a
// .wasm module in the relay's host (Wasm).
type Target struct {
	name string
	open func(t *testing.T, logs *logSink) (runner, error)
}

// Name is the target's subtest name: "native" or "wasm".
func (g Target) Name() string { return g.name }

// runner runs hooks of one plugin.
type runner interface {
	// init loads or initialises the plugin with config; a refusal by the
	// plugin is a *abi.GuestError.
	init(config []byte) error
	// call runs a hook; a guest error is a *abi.GuestError, anything else
	// is a failure of the plugin or of the host.
	call(hook abi.Hook, input []byte) ([]byte, error)
	close()
}

// Native runs the cases in the test binary, through sdk.Dispatch, with the
// codec or middleware the test's package registered (a plugin's own
// _test.go is in its main package, whose init registers it). Plugin log
// lines go to the test log.
func Native() Target {
	return Target{name: "native", open: func(t *testing.T, logs *logSink) (runner, error) {
		if sdk.Registered() == 0 {
			return nil, errors.New("sdktest: no plugin registered: call sdktest.Run from the plugin's own package, whose init calls sdk.RegisterCodec or sdk.RegisterMiddleware")
		}
		sdk.SetLogFunc(logs.log)
		return nativeRunner{}, nil
	}}
}

type nativeRunner struct{}

func (nativeRunner) init(config []byte) error { return sdk.Initialize(config) }

func (nativeRunner) call(hook abi.Hook, input []byte) ([]byte, error) {
	out, isErr := sdk.Dispatch(hook, input)
	if isErr {
		return nil, abi.ParseGuestError(out)
	}
	return append([]byte(nil), out...), nil
}

func (nativeRunner) close() { sdk.SetLogFunc(nil); sdk.SetConfig(nil) }

// Run runs every case file (*.txt, searched recursively) under dir against
// each target in turn: one subtest per target, then one per file, named by
// its path under dir. With no target it runs Native only.
//
// With -update, the first target's results rewrite the want and want-error
// sections; the other targets are then checked against the new files.
func Run(t *testing.T, dir string, targets ...Target) {
	t.Helper()
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("sdktest: no case files (*.txt) under %s", dir)
	}
	if len(targets) == 0 {
		targets = []Target{Native()}
	}
	for i, target := range targets {
		rewrite := *update && i == 0
		t.Run(target.name, func(t *testing.T) {
			logs := &logSink{}
			r, err := target.open(t, logs)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					logs.set(t)
					defer logs.set(nil)
					runCase(t, r, c, rewrite)
				})
			}
		})
	}
}

// LoadCases reads every case file under dir, sorted by name.
func LoadCases(dir string) ([]*Case, error) {
	var cases []*Case
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txt") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c, err := ParseCase(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(dir, path)
		c.Name = strings.TrimSuffix(filepath.ToSlash(rel), ".txt")
		c.File = path
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sdktest: %w", err)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

// runCase runs one case on r and checks (or, with rewrite, records) its
// outcome.
func runCase(t *testing.T, r runner, c *Case, rewrite bool) {
	t.Helper()
	if err := checkCase(r, c, rewrite); err != nil {
		t.Error(err)
	}
}

// checkCase runs one case on r and returns what is wrong with the outcome,
// or nil. With rewrite it records the outcome in the case file instead.
func checkCase(r runner, c *Case, rewrite bool) error {
	hookName := c.HookName()
	var (
		hook abi.Hook
		out  []byte
		err  error
	)
	if hookName == hookInit {
		err = r.init(c.Config())
	} else {
		if hook, err = c.Hook(); err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		input, ierr := c.Input()
		if ierr != nil {
			return fmt.Errorf("%s: %w", c.File, ierr)
		}
		if ierr := r.init(c.Config()); ierr != nil {
			return fmt.Errorf("%s: the plugin refused the case's config: %w", c.File, ierr)
		}
		out, err = r.call(hook, input)
	}
	var ge *abi.GuestError
	if err != nil && !errors.As(err, &ge) {
		return fmt.Errorf("%s: %s failed (not a guest error): %w", c.File, hookName, err)
	}

	if rewrite {
		if ge != nil {
			c.SetWant(renderError(ge), true)
		} else {
			text := ""
			if hookName != hookInit {
				if text, err = renderOutput(hook, out); err != nil {
					return fmt.Errorf("%s: %w", c.File, err)
				}
			}
			c.SetWant(text, false)
		}
		if err := os.WriteFile(c.File, c.Format(), 0o644); err != nil {
			return fmt.Errorf("sdktest: %w", err)
		}
		return nil
	}

	want, hasWant := c.Value("want")
	wantErr, hasWantErr := c.Value("want-error")
	switch {
	case !hasWant && !hasWantErr:
		return fmt.Errorf("%s: no want or want-error section (run the test with -update to write one)", c.File)
	case ge != nil && !hasWantErr:
		return fmt.Errorf("%s: %s returned an error, want success:\n%s", c.File, hookName, renderError(ge))
	case ge == nil && hasWantErr:
		got := ""
		if hookName != hookInit {
			got, _ = renderOutput(hook, out)
		}
		return fmt.Errorf("%s: %s succeeded, want error:\n%s\ngot:\n%s", c.File, hookName, wantErr, got)
	case ge != nil:
		eq, got, w, err := compareError(ge, wantErr)
		if err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		if !eq {
			return fmt.Errorf("%s: error differs (code and field must be equal, the wanted message part of the actual one) (-want +got):\n%s", c.File, diff(w, got))
		}
	case hookName == hookInit:
		if strings.TrimSpace(want) != "" {
			return fmt.Errorf("%s: an init case has no output: leave want empty", c.File)
		}
	default:
		eq, got, w, err := compareOutput(hook, out, want)
		if err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		if !eq {
			return fmt.Errorf("%s: %s output differs (-want +got):\n%s", c.File, hookName, diff(w, got))
		}
	}
	return nil
}

// logSink sends plugin log lines to the running case's test log.
type logSink struct {
	mu sync.Mutex
	tb testing.TB
}

func (l *logSink) set(tb testing.TB) {
	l.mu.Lock()
	l.tb = tb
	l.mu.Unlock()
}

func (l *logSink) log(level int32, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tb != nil {
		l.tb.Logf("plugin %s: %s", levelName(level), msg)
	}
}

func levelName(level int32) string {
	switch {
	case level < abi.LogInfo:
		return "DEBUG"
	case level < abi.LogWarn:
		return "INFO"
	case level < abi.LogError:
		return "WARN"
	}
	return "ERROR"
}

// Allocs runs every case under dir that expects success natively, through
// sdk.Dispatch, and returns the average number of allocations of one call
// after a warm-up, by case name. A plugin's test can assert its hot path
// does not allocate (allocation is several times dearer in wasm):
//
//	for name, n := range sdktest.Allocs(t, "testdata/cases") {
//		if n > 0 { t.Errorf("%s: %.1f allocations per call", name, n) }
//	}
func Allocs(tb testing.TB, dir string) map[string]float64 {
	tb.Helper()
	cases, err := LoadCases(dir)
	if err != nil {
		tb.Fatal(err)
	}
	allocs := map[string]float64{}
	for _, c := range cases {
		if _, ok := c.Value("want"); !ok || c.HookName() == hookInit {
			continue
		}
		hook, err := c.Hook()
		if err != nil {
			tb.Fatalf("%s: %v", c.File, err)
		}
		input, err := c.Input()
		if err != nil {
			tb.Fatalf("%s: %v", c.File, err)
		}
		if err := sdk.Initialize(c.Config()); err != nil {
			tb.Fatalf("%s: the plugin refused the case's config: %v", c.File, err)
		}
		if out, isErr := sdk.Dispatch(hook, input); isErr {
			tb.Fatalf("%s: %s", c.File, out)
		}
		allocs[c.Name] = testing.AllocsPerRun(20, func() { sdk.Dispatch(hook, input) })
	}
	sdk.SetConfig(nil)
	return allocs
}
