package sdktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
)

// upper is a middleware that copies the batch's "v" and the route's "tag"
// option, or refuses a batch without "v".
type upper struct{}

func (upper) Transform(opts, batch []byte, out *sdk.JSON) error {
	v := sdk.Get(batch, "v")
	if !v.Exists() {
		return sdk.BadField("v", "v is required")
	}
	sdk.Log(abi.LogInfo, "transform called")
	out.Object().KeyValue("v", v).OptValue("tag", sdk.Get(opts, "tag")).End()
	return nil
}

func writeCases(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunNative(t *testing.T) {
	sdk.RegisterMiddleware(upper{})
	dir := writeCases(t, map[string]string{
		"transform/ok.txt":     "-- options --\n{\"tag\": \"x\"}\n-- batch --\n{\"v\": 1}\n-- want --\n{\"tag\": \"x\", \"v\": 1}\n",
		"transform/no_v.txt":   "-- batch --\n{}\n-- want-error --\n{\"code\": \"bad_request\", \"field\": \"v\", \"message\": \"required\"}\n",
		"transform/ignore.md":  "not a case",
		"init/any_config.txt":  "-- config --\nanything\n-- want --\n",
		"nested/deeper/ok.txt": "-- hook --\ntransform\n-- batch --\n{\"v\": 2}\n-- want --\n{\"v\": 2}\n",
	})
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	if got := len(names); got != 4 {
		t.Fatalf("cases %v, want the four .txt files", names)
	}
	Run(t, dir, Native())

	allocs := Allocs(t, dir)
	if _, ok := allocs["transform/no_v"]; ok {
		t.Error("Allocs ran an error case")
	}
	if n, ok := allocs["transform/ok"]; !ok || n != 0 {
		t.Errorf("transform/ok: %v allocations (present %v), want 0", n, ok)
	}
}
