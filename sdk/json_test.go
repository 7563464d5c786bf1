package sdk

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

func TestJSONStringEscaping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<script>&</script>", `"\u003cscript\u003e\u0026\u003c/script\u003e"`},
		{"line\u2028para\u2029end", `"line\u2028para\u2029end"`},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"cut \xe4\xbd", `"cut \ufffd\ufffd"`},
		{"中文 é 😀", `"中文 é 😀"`},
	} {
		var j JSON
		j.String(tc.in)
		if got := string(j.Bytes()); got != tc.want {
			t.Errorf("String(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal(j.Bytes(), &back); err != nil {
			t.Errorf("String(%q) = %s does not parse: %v", tc.in, j.Bytes(), err)
		}
		if want := replaceInvalid(tc.in); back != want {
			t.Errorf("String(%q) parses back as %q, want %q", tc.in, back, want)
		}
		j.Reset()
		j.StringBytes([]byte(tc.in))
		if got := string(j.Bytes()); got != tc.want {
			t.Errorf("StringBytes(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// replaceInvalid replaces each invalid UTF-8 byte by U+FFFD, as the builder
// does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

func TestJSONStructure(t *testing.T) {
	var j JSON
	j.Object()
	j.KeyInt("v", 1)
	j.Key("messages").Array()
	j.Object().KeyString("kind", "text").Key("to").Object().Key("users").Array().String("a").String("b").End().End().End()
	j.Object().End()
	j.Array().End()
	j.Null().Bool(true).Bool(false).Int(-7).Uint(math.MaxUint64).Float(1.5)
	j.End()
	j.Key("raw").Raw([]byte(`{"x":[1,2]}`))
	j.Key("rawstr").RawString(`"s"`)
	j.End()
	want := `{"v":1,"messages":[{"kind":"text","to":{"users":["a","b"]}},{},[],null,true,false,-7,18446744073709551615,1.5],"raw":{"x":[1,2]},"rawstr":"s"}`
	if got := string(j.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if j.Depth() != 0 || !j.complete() {
		t.Fatalf("depth %d after closing everything", j.Depth())
	}
	if j.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", j.Len(), len(want))
	}
	j.Reset()
	j.Array().Int(1).End()
	if got := string(j.Bytes()); got != "[1]" {
		t.Fatalf("after Reset: %s", got)
	}
}

func TestJSONDeepNesting(t *testing.T) {
	// Depths around 64 cross from the builder's bit sets to its spill
	// slice; a value written after each inner container closes checks the
	// comma state of every level survived the deeper ones.
	for _, depth := range []int{63, 64, 65, 130} {
		var j JSON
		m := &model{}
		for i := 0; i < depth; i++ {
			if m.inObject() {
				j.Key("k")
				m.key("k")
			}
			if i%2 == 0 {
				j.Array().Int(int64(i))
				m.open(false)
			} else {
				j.Object().Key("n").Int(int64(i))
				m.open(true)
				m.key("n")
			}
			m.value(json.Number(strconv.Itoa(i)))
		}
		for i := depth - 1; i >= 0; i-- {
			if m.inObject() {
				j.Key("after")
				m.key("after")
			}
			j.String("after")
			m.value("after")
			j.End()
			m.close()
		}
		if j.Depth() != 0 {
			t.Fatalf("depth %d: %d containers left open", depth, j.Depth())
		}
		d := json.NewDecoder(strings.NewReader(string(j.Bytes())))
		d.UseNumber()
		var got any
		if err := d.Decode(&got); err != nil {
			t.Fatalf("depth %d: %v: %s", depth, err, j.Bytes())
		}
		if !reflect.DeepEqual(got, m.root) {
			t.Fatalf("depth %d: output %s does not match the model", depth, j.Bytes())
		}
	}
}

func TestJSONEndAtTopLevelIsHarmless(t *testing.T) {
	var j JSON
	j.End()
	j.Object().Key("dangling").End().End()
	if got := string(j.Bytes()); got != `{"dangling":null}` {
		t.Fatalf("got %s", got)
	}
	if !json.Valid(j.Bytes()) {
		t.Fatalf("invalid: %s", j.Bytes())
	}
}

func TestJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.1, 1.5, 1e20, 1e21, 1.2345e21, 1e-6, 1e-7, 1.5e-7, -2.5e-10,
		123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 39.9042, 116.407396} {
		var j JSON
		j.Float(v)
		want, _ := json.Marshal(v)
		if got := string(j.Bytes()); got != string(want) {
			t.Errorf("Float(%v) = %s, encoding/json writes %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var j JSON
		j.Float(v)
		if got := string(j.Bytes()); got != "null" {
			t.Errorf("Float(%v) = %s, want null", v, got)
		}
	}
}

func TestJSONValue(t *testing.T) {
	doc := `{"s":"a\"b\u00e9","n":-1.5e3,"o":{"x":[1,{"y":null}]},"t":true,"bad":tru,"e":"","ea":[ ],"eo":{}}`
	root := gjson.Parse(doc)
	var j JSON
	j.Object()
	for _, k := range []string{"s", "n", "o", "t", "missing", "bad"} {
		j.KeyValue(k, root.Get(k))
	}
	for _, k := range []string{"s", "o", "missing", "e", "ea", "eo", "t"} {
		j.OptValue("opt_"+k, root.Get(k))
	}
	j.End()
	want := `{"s":"a\"b\u00e9","n":-1.5e3,"o":{"x":[1,{"y":null}]},"t":true,"missing":null,"bad":null,"opt_s":"a\"b\u00e9","opt_o":{"x":[1,{"y":null}]},"opt_t":true}`
	if got := string(j.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestJSONShorthands(t *testing.T) {
	var j JSON
	j.Object().
		KeyString("s", "x").KeyInt("i", 2).KeyFloat("f", 0.5).KeyBool("b", false).KeyRaw("r", []byte(`[1]`)).
		OptString("os", "").OptString("os2", "y").
		OptInt("oi", 0).OptInt("oi2", -3).
		OptFloat("of", 0).OptFloat("ofn", math.NaN()).OptFloat("of2", 2.5).
		OptBool("ob", false).OptBool("ob2", true).
		End()
	want := `{"s":"x","i":2,"f":0.5,"b":false,"r":[1],"os2":"y","oi2":-3,"of2":2.5,"ob2":true}`
	if got := string(j.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// buildTypical writes a canonical batch the size of a real message, as a
// decode hook does.
func buildTypical(j *JSON, src gjson.Result) {
	j.Reset()
	j.Object().KeyInt("v", 1).Key("messages").Array()
	j.Object()
	j.KeyString("kind", "text")
	j.KeyValue("from", src.Get("from"))
	j.Key("to").Object().Key("users").Array()
	src.Get("to").ForEach(func(_, v gjson.Result) bool { j.Value(v); return true })
	j.End().End()
	j.KeyValue("text", src.Get("text"))
	j.KeyString("note", "escaped \"here\" \u2028")
	j.Key("options").Object().OptBool("silent", true).OptString("push_text", "new message <b>&</b>").End()
	j.KeyFloat("lat", 39.9042).KeyInt("size", 123456)
	j.OptValue("ext", src.Get("ext"))
	j.End()
	j.End().End()
}

func TestJSONZeroAllocAfterWarmUp(t *testing.T) {
	src := gjson.Parse(`{"from":"bot","to":["alice","bob","carol"],"text":"hello 世界 <b>","ext":{"a":1,"b":[true,false]}}`)
	var j JSON
	buildTypical(&j, src) // warm up: the buffer grows once
	if allocs := testing.AllocsPerRun(100, func() { buildTypical(&j, src) }); allocs != 0 {
		t.Fatalf("building a document allocates %.1f times per run after warm-up, want 0", allocs)
	}
	if !json.Valid(j.Bytes()) {
		t.Fatalf("invalid: %s", j.Bytes())
	}
}

// FuzzJSON drives the builder with a random sequence of calls, read from
// ops, and checks that what it writes parses with encoding/json into the
// same value as a model built beside it. The harness only keeps the
// sequence well-formed (a key before each member, no End at the top level,
// every container closed at the end); what is written is up to the fuzzer.
func FuzzJSON(f *testing.F) {
	f.Add([]byte{5, 0, 1, 6, 2, 3, 7, 4, 7}, "key", "va\"lue\x00<>", int64(42), 1.25)
	f.Add([]byte{6, 6, 6, 8, 9, 10, 11, 12, 13}, "\xff\xfe", `{"a":[1,2,{"b":null}]}`, int64(-1), math.Inf(1))
	f.Add([]byte{5, 9, 5, 9, 7, 9, 7}, "\u2028", `"x\u2029"`, int64(math.MinInt64), -0.0)
	f.Add([]byte{9}, "k", "tru", int64(0), 1e-9)
	f.Fuzz(func(t *testing.T, ops []byte, s1, s2 string, n int64, x float64) {
		if len(ops) > 512 {
			ops = ops[:512]
		}
		var j JSON
		m := &model{}
		strs := [2]string{s1, s2}
		for i, op := range ops {
			if m.done {
				break
			}
			s := strs[i%2]
			// A member of an object needs a key first.
			if m.inObject() && !m.keyed && op%14 != 7 && op%14 != 12 {
				j.Key(s)
				m.key(replaceInvalid(s))
			}
			switch op % 14 {
			case 0:
				j.String(s)
				m.value(replaceInvalid(s))
			case 1:
				j.Int(n)
				m.value(json.Number(strconv.FormatInt(n, 10)))
			case 2:
				j.Float(x)
				m.value(floatModel(x))
			case 3:
				j.Bool(n%2 == 0)
				m.value(n%2 == 0)
			case 4:
				j.Null()
				m.value(nil)
			case 5:
				j.Object()
				m.open(true)
			case 6:
				j.Array()
				m.open(false)
			case 7:
				if m.depth() > 0 && !m.keyed {
					j.End()
					m.close()
				}
			case 8:
				j.Raw([]byte(`[1,"two",{"3":null}]`))
				m.value([]any{json.Number("1"), "two", map[string]any{"3": nil}})
			case 9:
				r := gjson.Parse(s)
				j.Value(r)
				m.value(valueModel(t, r))
			case 10:
				j.StringBytes([]byte(s))
				m.value(replaceInvalid(s))
			case 11:
				j.Uint(uint64(n))
				m.value(json.Number(strconv.FormatUint(uint64(n), 10)))
			case 12:
				// OptString writes a whole member, or nothing when the
				// value is empty.
				if m.inObject() && !m.keyed {
					j.OptString(s, s)
					if s != "" {
						m.key(replaceInvalid(s))
						m.value(replaceInvalid(s))
					}
				} else {
					j.String(s)
					m.value(replaceInvalid(s))
				}
			case 13:
				j.RawString(`"raw"`)
				m.value("raw")
			}
		}
		for m.depth() > 0 {
			if m.keyed {
				j.Null()
				m.value(nil)
			}
			j.End()
			m.close()
		}
		if !m.done {
			return // nothing written
		}
		if !json.Valid(j.Bytes()) {
			t.Fatalf("invalid JSON: %q", j.Bytes())
		}
		d := json.NewDecoder(strings.NewReader(string(j.Bytes())))
		d.UseNumber()
		var got any
		if err := d.Decode(&got); err != nil {
			t.Fatalf("%v: %q", err, j.Bytes())
		}
		if !reflect.DeepEqual(got, m.root) {
			t.Fatalf("parsed %#v\nmodel  %#v\nfrom %q", got, m.root, j.Bytes())
		}
	})
}

func floatModel(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	b, _ := json.Marshal(x)
	return json.Number(b)
}

// valueModel is what Value writes for r, decoded: r's raw JSON when it is
// valid, null otherwise. Value's check must agree with encoding/json both
// ways.
func valueModel(t *testing.T, r gjson.Result) any {
	d := json.NewDecoder(strings.NewReader(r.Raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil && d.More() {
		err = errors.New("trailing data")
	}
	switch valid := validValue(r.Raw); {
	case valid && err != nil:
		t.Fatalf("Value accepts %q, encoding/json does not: %v", r.Raw, err)
	case !valid && err == nil && strings.TrimSpace(r.Raw) == r.Raw:
		t.Fatalf("Value refuses %q, which encoding/json accepts", r.Raw)
	case !valid:
		return nil
	}
	return v
}

// model builds, beside the builder, the value its output should parse to.
type model struct {
	stack []*modelFrame
	root  any
	done  bool
	keyed bool
	k     string
}

type modelFrame struct {
	obj map[string]any
	arr []any
	// set stores the finished container into its parent.
	set func(any)
}

func (m *model) depth() int { return len(m.stack) }

func (m *model) inObject() bool { return len(m.stack) > 0 && m.stack[len(m.stack)-1].obj != nil }

func (m *model) key(k string) { m.k, m.keyed = k, true }

// place returns the setter for the next value at the current position.
func (m *model) place() func(any) {
	if len(m.stack) == 0 {
		return func(v any) { m.root, m.done = v, true }
	}
	top := m.stack[len(m.stack)-1]
	if top.obj != nil {
		k := m.k
		m.keyed = false
		return func(v any) { top.obj[k] = v }
	}
	i := len(top.arr)
	top.arr = append(top.arr, nil)
	return func(v any) { top.arr[i] = v }
}

func (m *model) value(v any) { m.place()(v) }

func (m *model) open(isObj bool) {
	f := &modelFrame{set: m.place()}
	if isObj {
		f.obj = map[string]any{}
	} else {
		f.arr = []any{}
	}
	m.stack = append(m.stack, f)
}

func (m *model) close() {
	f := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	if f.obj != nil {
		f.set(f.obj)
	} else {
		f.set(f.arr)
	}
}

func TestValidValue(t *testing.T) {
	for raw, want := range map[string]bool{
		`"x"`: true, `""`: true, `"a\"b\\c\/\b\f\n\r\t\u00e9\uD83D"`: true, `"中文"`: true,
		`"`: false, `"abc`: false, `"a"b"`: false, `"a\"`: false, `"\x"`: false, `"\u12"`: false, `"\u12g4"`: false, "\"a\tb\"": false,
		`0`: true, `-0`: true, `12`: true, `-1.5e3`: true, `1E+2`: true, `0.25`: true,
		`01`: false, `-`: false, `1.`: false, `.5`: false, `1e`: false, `1e+`: false, `12abc`: false, `+1`: false,
		`true`: true, `false`: true, `null`: true, `tru`: false, `nul`: false, `nullx`: false,
		`{}`: true, `[1,{"a":[]}]`: true, `{"a":}`: false, `[1,]`: false, ``: false, ` 1`: false,
	} {
		if got := validValue(raw); got != want {
			t.Errorf("validValue(%q) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzValidString holds validString, with its eight-bytes-at-a-time skip,
// to encoding/json's idea of one JSON string.
func FuzzValidString(f *testing.F) {
	for _, s := range []string{"", "plain text that runs past eight bytes", `a\"b`, "tab\tin", `\u00e9\uD83D`, `\u12g4`, "中文 and more text", `ends with \`, `x"y`, "\x7f\x80\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := `"` + s + `"`
		if got, want := validString(raw), json.Valid([]byte(raw)); got != want {
			t.Fatalf("validString(%q) = %v, encoding/json says %v", raw, got, want)
		}
	})
}
