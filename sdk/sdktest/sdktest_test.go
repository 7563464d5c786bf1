package sdktest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

const sample = `# A comment
# on two lines.
-- hook --
decode_request
-- options --
{"policy": "reject"}
-- body --
{"to": "alice"}

-- want --
{"v": 1}
`

func TestParseCaseRoundTrip(t *testing.T) {
	c, err := ParseCase([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if c.Comment != "# A comment\n# on two lines.\n" {
		t.Errorf("comment %q", c.Comment)
	}
	if got := len(c.Sections); got != 4 {
		t.Fatalf("%d sections", got)
	}
	if v, _ := c.Value("body"); v != "{\"to\": \"alice\"}\n" {
		t.Errorf("body %q: only the final newline is removed", v)
	}
	if v, ok := c.Value("options"); !ok || v != `{"policy": "reject"}` {
		t.Errorf("options %q %v", v, ok)
	}
	if _, ok := c.Value("batch"); ok {
		t.Error("a missing section is reported present")
	}
	if got := string(c.Format()); got != sample {
		t.Errorf("Format does not give the file back:\n%s", diff(sample, got))
	}
}

func TestParseCaseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"unknown section": "-- hook --\ntransform\n-- bodyy --\n{}\n",
		"duplicate":       "-- body --\n{}\n-- body --\n{}\n",
		"both wants":      "-- want --\n{}\n-- want-error --\n{}\n",
	} {
		if _, err := ParseCase([]byte(text)); !errors.Is(err, ErrCase) {
			t.Errorf("%s: err = %v, want ErrCase", name, err)
		}
	}
}

func TestSetWant(t *testing.T) {
	c, _ := ParseCase([]byte("-- body --\nx\n-- want --\nold\n-- config --\n{}\n"))
	c.SetWant(`{"code":"x"}`, true)
	if got := string(c.Format()); got != "-- body --\nx\n-- want-error --\n{\"code\":\"x\"}\n-- config --\n{}\n" {
		t.Errorf("replaced in place: %q", got)
	}
	c, _ = ParseCase([]byte("-- body --\nx\n"))
	c.SetWant("out", false)
	if got := string(c.Format()); got != "-- body --\nx\n-- want --\nout\n" {
		t.Errorf("appended: %q", got)
	}
}

func TestHookName(t *testing.T) {
	c, _ := ParseCase([]byte("-- body --\n{}\n"))
	c.Name = "decode_request/basic"
	if c.HookName() != "decode_request" {
		t.Errorf("from directory: %q", c.HookName())
	}
	if h, err := c.Hook(); err != nil || h != abi.HookDecodeRequest {
		t.Errorf("Hook() = %v, %v", h, err)
	}
	c, _ = ParseCase([]byte("-- hook --\n transform \n"))
	c.Name = "decode_request/basic"
	if h, err := c.Hook(); err != nil || h != abi.HookTransform {
		t.Errorf("section wins: %v, %v", h, err)
	}
	c, _ = ParseCase([]byte("-- hook --\ndecode\n"))
	if _, err := c.Hook(); !errors.Is(err, ErrCase) {
		t.Errorf("unknown hook: %v", err)
	}
}

func TestInputDecodeRequest(t *testing.T) {
	c, _ := ParseCase([]byte("-- hook --\ndecode_request\n-- options --\n{ \"a\" : 1 }\n-- query --\nx=1\n-- body --\n{ \"to\" : \"a\" }\n"))
	in, err := c.Input()
	if err != nil {
		t.Fatal(err)
	}
	f, err := abi.Split(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, "POST", "/", "x=1", "application/json", `{ "to" : "a" }`}
	if len(f) != len(want) {
		t.Fatalf("%d fields", len(f))
	}
	for i := range want {
		if string(f[i]) != want[i] {
			t.Errorf("field %d = %q, want %q", i, f[i], want[i])
		}
	}
}

func TestInputResponses(t *testing.T) {
	c, _ := ParseCase([]byte(`-- hook --
decode_response
-- batch --
{"v": 1}
-- responses --
status: 201
tag: "quoted \"tag\"\n"
content-type: text/plain

line one
line two
===
status: 0

{"code":"timeout","message":"slow"}
===
tag: t3
`))
	in, err := c.Input()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := abi.Split(in, nil)
	if len(f) != 3 || string(f[abi.FieldBatch]) != `{"v":1}` {
		t.Fatalf("fields %q", f)
	}
	answers, err := abi.Split(f[abi.FieldResponses], nil)
	if err != nil || len(answers) != 3 {
		t.Fatalf("%d answers, %v", len(answers), err)
	}
	want := [][4]string{
		{"quoted \"tag\"\n", "201", "text/plain", "line one\nline two"},
		{"", "0", "application/json", `{"code":"timeout","message":"slow"}`},
		{"t3", "200", "application/json", ""},
	}
	for i, a := range answers {
		af, err := abi.Split(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want[i] {
			if string(af[j]) != want[i][j] {
				t.Errorf("answer %d field %d = %q, want %q", i, j, af[j], want[i][j])
			}
		}
	}
	c, _ = ParseCase([]byte("-- hook --\ndecode_response\n-- responses --\nstatus: ok\n"))
	if _, err := c.Input(); !errors.Is(err, ErrCase) {
		t.Errorf("bad status: %v", err)
	}
}

func requestsFrame(reqs ...[abi.RequestFields]string) []byte {
	out := abi.AppendFrame(nil, len(reqs))
	for _, r := range reqs {
		f := abi.AppendFrame(nil, len(r))
		for _, s := range r {
			f = abi.AppendFieldString(f, s)
		}
		out = abi.AppendField(out, f)
	}
	return out
}

func TestCompareEncodeRequest(t *testing.T) {
	out := requestsFrame(
		[abi.RequestFields]string{"POST", "/send", "a=1", "application/json", `{"to":"alice","n":[1,2]}`, `{"m":0}`},
		[abi.RequestFields]string{"GET", "/ping", "", "", "", ""},
	)
	got, err := renderOutput(abi.HookEncodeRequest, out)
	if err != nil {
		t.Fatal(err)
	}
	wantRendered := "POST /send?a=1\ncontent-type: application/json\ntag: {\"m\":0}\n\n{\n  \"to\": \"alice\",\n  \"n\": [\n    1,\n    2\n  ]\n}\n===\nGET /ping"
	if got != wantRendered {
		t.Fatalf("rendered:\n%s\nwant:\n%s", got, wantRendered)
	}
	for _, tc := range []struct {
		want  string
		equal bool
	}{
		{wantRendered, true},
		// Key order and spacing of a JSON body do not matter.
		{"POST /send?a=1\ntag: {\"m\":0}\ncontent-type: application/json\n\n{\"n\":[1, 2], \"to\":\"alice\"}\n===\nGET /ping", true},
		{"POST /send?a=2\ncontent-type: application/json\ntag: {\"m\":0}\n\n{\"to\":\"alice\",\"n\":[1,2]}\n===\nGET /ping", false},
		{"POST /send?a=1\ncontent-type: application/json\ntag: {\"m\":1}\n\n{\"to\":\"alice\",\"n\":[1,2]}\n===\nGET /ping", false},
		{"POST /send?a=1\ncontent-type: application/json\ntag: {\"m\":0}\n\n{\"to\":\"bob\",\"n\":[1,2]}\n===\nGET /ping", false},
		{"POST /send?a=1\ncontent-type: application/json\ntag: {\"m\":0}\n\n{\"to\":\"alice\",\"n\":[1,2]}", false},
	} {
		eq, _, _, err := compareOutput(abi.HookEncodeRequest, out, tc.want)
		if err != nil || eq != tc.equal {
			t.Errorf("compare with\n%s\n= %v, %v; want %v", tc.want, eq, err, tc.equal)
		}
	}
}

func TestCompareEncodeResponse(t *testing.T) {
	out := abi.AppendFrame(nil, abi.ResponseFields)
	for _, s := range []string{"", "400", "text/plain", "bad\nrequest"} {
		out = abi.AppendFieldString(out, s)
	}
	got, _ := renderOutput(abi.HookEncodeResponse, out)
	if got != "status: 400\ncontent-type: text/plain\n\nbad\nrequest" {
		t.Fatalf("rendered %q", got)
	}
	if eq, _, _, _ := compareOutput(abi.HookEncodeResponse, out, got); !eq {
		t.Error("a rendering does not match itself")
	}
	if eq, _, _, _ := compareOutput(abi.HookEncodeResponse, out, "status: 200\ncontent-type: text/plain\n\nbad\nrequest"); eq {
		t.Error("another status matches")
	}
}

func TestCompareJSON(t *testing.T) {
	out := []byte(`{"a":1,"b":[true,"x"]}`)
	for want, equal := range map[string]bool{
		"{\n  \"b\": [true, \"x\"],\n  \"a\": 1\n}": true,
		`{"a":1.0,"b":[true,"x"]}`:                  false, // numbers compared as written
		`{"a":1,"b":[true,"x"],"c":null}`:           false,
		`{"a":1,"b":["x",true]}`:                    false,
	} {
		eq, _, _, err := compareOutput(abi.HookDecodeRequest, out, want)
		if err != nil || eq != equal {
			t.Errorf("compare with %s = %v, %v; want %v", want, eq, err, equal)
		}
	}
	if _, _, _, err := compareOutput(abi.HookDecodeRequest, out, "{not json"); !errors.Is(err, ErrCase) {
		t.Errorf("invalid want: %v", err)
	}
	if _, err := renderOutput(abi.HookTransform, []byte("{oops")); err == nil {
		t.Error("invalid output is rendered without complaint")
	}
}

func TestCompareError(t *testing.T) {
	got := &abi.GuestError{Code: abi.CodeBadRequest, Field: "to", Message: "to is required: a user or a list"}
	for want, equal := range map[string]bool{
		`{"code":"bad_request","field":"to","message":"to is required: a user or a list"}`: true,
		`{"code":"bad_request","field":"to","message":"is required"}`:                      true,
		`{"code":"bad_request","field":"to"}`:                                              true,
		`{"code":"bad_request","message":"is required"}`:                                   false,
		`{"code":"too_large","field":"to","message":"is required"}`:                        false,
		`{"code":"bad_request","field":"to","message":"is optional"}`:                      false,
	} {
		eq, _, _, err := compareError(got, want)
		if err != nil || eq != equal {
			t.Errorf("compare with %s = %v, %v; want %v", want, eq, err, equal)
		}
	}
	if _, _, _, err := compareError(got, `{"code":"x","fields":"typo"}`); !errors.Is(err, ErrCase) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestDiff(t *testing.T) {
	got := diff("a\nb\nc\nd", "a\nc\nd\ne")
	want := "  a\n- b\n  c\n  d\n+ e\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got := diff("x", "y"); got != "- x\n+ y\n" {
		t.Fatalf("replace: %q", got)
	}
	if got := diff("same", "same"); got != "  same\n" {
		t.Fatalf("equal: %q", got)
	}
}

// fakeRunner answers every hook with a fixed output or error.
type fakeRunner struct {
	out     []byte
	err     error
	initErr error
	config  []byte
}

func (f *fakeRunner) init(config []byte) error { f.config = config; return f.initErr }
func (f *fakeRunner) call(abi.Hook, []byte) ([]byte, error) {
	return f.out, f.err
}
func (f *fakeRunner) close() {}

func TestCheckCaseAndUpdate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "case.txt")
	text := "# keep me\n-- hook --\ntransform\n-- config --\n{\"k\":1}\n-- batch --\n{}\n-- want --\n{\"old\":true}\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() *Case {
		cases, err := LoadCases(dir)
		if err != nil || len(cases) != 1 {
			t.Fatalf("LoadCases: %d, %v", len(cases), err)
		}
		return cases[0]
	}
	r := &fakeRunner{out: []byte(`{"new":[1]}`)}
	err := checkCase(r, load(), false)
	if err == nil || !strings.Contains(err.Error(), "-   \"old\": true") || !strings.Contains(err.Error(), "+   \"new\": [") {
		t.Fatalf("mismatch report: %v", err)
	}
	if string(r.config) != `{"k":1}` {
		t.Errorf("config given to the plugin: %q", r.config)
	}
	// -update rewrites want, keeping the rest of the file.
	if err := checkCase(r, load(), true); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	wantFile := "# keep me\n-- hook --\ntransform\n-- config --\n{\"k\":1}\n-- batch --\n{}\n-- want --\n{\n  \"new\": [\n    1\n  ]\n}\n"
	if string(data) != wantFile {
		t.Fatalf("rewritten file:\n%s", diff(wantFile, string(data)))
	}
	if err := checkCase(r, load(), false); err != nil {
		t.Fatalf("after update: %v", err)
	}
	// A guest error where success is wanted, then recorded as want-error.
	r = &fakeRunner{err: &abi.GuestError{Code: abi.CodeUnsupported, Message: "no"}}
	if err := checkCase(r, load(), false); err == nil || !strings.Contains(err.Error(), "returned an error, want success") {
		t.Fatalf("unexpected error report: %v", err)
	}
	if err := checkCase(r, load(), true); err != nil {
		t.Fatal(err)
	}
	if c := load(); !strings.Contains(string(c.Format()), "-- want-error --\n{\n  \"code\": \"unsupported\",\n  \"message\": \"no\"\n}\n") {
		t.Fatalf("want-error not written:\n%s", c.Format())
	}
	// A host failure is never recorded.
	r = &fakeRunner{err: errors.New("wasm trap")}
	if err := checkCase(r, load(), true); err == nil || !strings.Contains(err.Error(), "not a guest error") {
		t.Fatalf("trap: %v", err)
	}
	// Success where an error is wanted.
	r = &fakeRunner{out: []byte(`{}`)}
	if err := checkCase(r, load(), false); err == nil || !strings.Contains(err.Error(), "succeeded, want error") {
		t.Fatalf("unexpected success report: %v", err)
	}
}

func TestCheckCaseInit(t *testing.T) {
	c, _ := ParseCase([]byte("-- hook --\ninit\n-- config --\nbad\n-- want-error --\n{\"code\":\"bad_request\",\"message\":\"config\"}\n"))
	r := &fakeRunner{initErr: &abi.GuestError{Code: abi.CodeBadRequest, Message: "config is bad"}}
	if err := checkCase(r, c, false); err != nil {
		t.Fatal(err)
	}
	if string(r.config) != "bad" {
		t.Errorf("config %q", r.config)
	}
	r.initErr = nil
	if err := checkCase(r, c, false); err == nil {
		t.Fatal("an init that succeeds passes a want-error case")
	}
	// A refused config on a hook case is reported as such.
	c, _ = ParseCase([]byte("-- hook --\ntransform\n-- want --\n{}\n"))
	r.initErr = &abi.GuestError{Code: abi.CodeBadRequest, Message: "x"}
	if err := checkCase(r, c, false); err == nil || !strings.Contains(err.Error(), "refused the case's config") {
		t.Fatalf("refused config: %v", err)
	}
}

func TestDiffContext(t *testing.T) {
	want := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12"
	got := strings.Replace(want, "9", "nine", 1)
	if d := diff(want, got); d != "  ...\n  6\n  7\n  8\n- 9\n+ nine\n  10\n  11\n  12\n" {
		t.Fatalf("diff with context:\n%s", d)
	}
}
