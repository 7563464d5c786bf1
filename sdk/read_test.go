package sdk

import (
	"testing"

	"github.com/tidwall/gjson"
)

func TestFields(t *testing.T) {
	body := []byte(`{"a":1,"b":"two","c":{"d":[3]},"a":"dup","e\u0041":5}`)
	keys := []string{"c", "missing", "a", "b", "eA"}
	var v [5]gjson.Result
	v[1] = gjson.Parse(`"stale"`)
	Fields(Parse(body), keys, v[:])
	want := []string{`{"d":[3]}`, ``, `1`, `"two"`, `5`}
	for i := range keys {
		if v[i].Raw != want[i] {
			t.Errorf("%s = %q, want %q", keys[i], v[i].Raw, want[i])
		}
	}
	if v[1].Exists() {
		t.Error("a missing key keeps a stale value")
	}
	plain := []byte(`{"from":"bot","to":["a","b"],"text":"hi","ext":{"k":1}}`)
	in := Parse(plain)
	var w [4]gjson.Result
	if n := testing.AllocsPerRun(100, func() { Fields(in, []string{"to", "text", "from", "ext"}, w[:]) }); n != 0 {
		t.Errorf("Fields allocates %.1f times per call", n)
	}
	if w[0].Raw != `["a","b"]` || w[3].Raw != `{"k":1}` {
		t.Errorf("got %q %q", w[0].Raw, w[3].Raw)
	}
}

func TestParseAndGetDoNotCopy(t *testing.T) {
	body := []byte(`{"to":"alice","ext":{"k":[1,2]}}`)
	if n := testing.AllocsPerRun(100, func() { _ = Get(body, "ext.k").Raw; _ = Parse(body).Get("to").Str }); n != 0 {
		t.Errorf("Get/Parse allocate %.1f times per call", n)
	}
	if Get(body, "ext.k.1").Int() != 2 || Str(body[7:12]) != "alice" {
		t.Error("wrong values")
	}
}
