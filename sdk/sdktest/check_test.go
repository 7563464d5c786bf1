package sdktest

import (
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk"
)

// TestCheck runs passing and failing cases without subtests: every case
// gets one Result, a failure carries the file and a -want +got diff.
func TestCheck(t *testing.T) {
	sdk.RegisterMiddleware(upper{})
	dir := writeCases(t, map[string]string{
		"transform/ok.txt":        "-- batch --\n{\"v\": 1}\n-- want --\n{\"v\": 1}\n",
		"transform/wrong.txt":     "-- batch --\n{\"v\": 1}\n-- want --\n{\"v\": 2}\n",
		"transform/wrong_err.txt": "-- batch --\n{}\n-- want-error --\n{\"code\": \"not_found\", \"field\": \"v\"}\n",
	})
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	results, err := Check(Native(), cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}
	if results[0].Err != nil || results[0].Case.Name != "transform/ok" {
		t.Errorf("transform/ok: %v", results[0])
	}
	for _, r := range results[1:] {
		msg := r.String()
		if r.Err == nil || !strings.HasPrefix(msg, "FAIL "+r.Case.Name) || !strings.Contains(msg, r.Case.File) || !strings.Contains(msg, "(-want +got)") {
			t.Errorf("%s: want a failure naming the file with a diff, got:\n%s", r.Case.Name, msg)
		}
	}
	if !strings.Contains(results[1].Err.Error(), "-   \"v\": 2") || !strings.Contains(results[1].Err.Error(), "+   \"v\": 1") {
		t.Errorf("diff does not show the differing lines:\n%v", results[1].Err)
	}
}

func TestCheckWasmMissing(t *testing.T) {
	if _, err := Check(Wasm("testdata/no-such.wasm"), nil); err == nil {
		t.Error("Check with a missing module returned no error")
	}
}
