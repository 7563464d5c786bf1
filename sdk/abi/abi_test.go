package abi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/imrelay/imrelay/sdk/abi"
)

func TestPackRoundTrip(t *testing.T) {
	cases := []struct {
		ptr, n uint32
		isErr  bool
	}{
		{0, 0, false},
		{1, 1, false},
		{0xFFFFFFFF, abi.MaxLen, false},
		{0x10000, 1234, true},
		{0xFFFFFFFF, abi.MaxLen, true},
	}
	for _, c := range cases {
		v := abi.Pack(c.ptr, c.n)
		if c.isErr {
			v = abi.PackError(c.ptr, c.n)
		}
		ptr, n, isErr := abi.Unpack(v)
		if ptr != c.ptr || n != c.n || isErr != c.isErr {
			t.Errorf("Unpack(Pack(%#x, %d, err=%v)) = %#x, %d, %v", c.ptr, c.n, c.isErr, ptr, n, isErr)
		}
	}
	// The error flag is bit 31 exactly: a length of 2^31 must not leak into it.
	if _, _, isErr := abi.Unpack(abi.Pack(1, 1<<31)); isErr {
		t.Error("a length with bit 31 set was read as an error flag")
	}
}

func TestHookNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range []abi.Kind{abi.KindCodec, abi.KindMiddleware} {
		for _, h := range k.Hooks() {
			name := h.ExportName()
			if name == "" || seen[name] {
				t.Errorf("hook %d of %s has empty or duplicate export name %q", h, k, name)
			}
			seen[name] = true
		}
	}
	if got := len(seen); got != 5 {
		t.Errorf("got %d hook exports, want 5", got)
	}
	if abi.Hook(0).ExportName() != "" || abi.Hook(99).ExportName() != "" {
		t.Error("unknown hooks must have no export name")
	}
	if abi.HookDecodeRequest.String() != "decode_request" {
		t.Errorf("String() = %q", abi.HookDecodeRequest.String())
	}
}

func TestFrameRoundTrip(t *testing.T) {
	fields := [][]byte{[]byte("POST"), nil, []byte("/a/b"), bytes.Repeat([]byte{0xff}, 300)}
	f := abi.AppendFrame(nil, len(fields))
	for _, x := range fields {
		f = abi.AppendField(f, x)
	}
	got, err := abi.Split(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fields) {
		t.Fatalf("got %d fields, want %d", len(got), len(fields))
	}
	for i := range fields {
		if !bytes.Equal(got[i], fields[i]) {
			t.Errorf("field %d = %q, want %q", i, got[i], fields[i])
		}
		one, err := abi.Field(f, i)
		if err != nil || !bytes.Equal(one, fields[i]) {
			t.Errorf("Field(%d) = %q, %v", i, one, err)
		}
	}
	// A field view must not let the caller append over the next field.
	if cap(got[0]) != len(got[0]) {
		t.Error("field views must have their capacity clipped")
	}
}

func TestNestedFrame(t *testing.T) {
	outer := abi.AppendFrame(nil, 2)
	outer, mark := abi.BeginField(outer)
	outer = abi.AppendFrame(outer, 1)
	outer = abi.AppendFieldString(outer, "inner")
	outer = abi.EndField(outer, mark)
	outer = abi.AppendFieldString(outer, "after")

	fs, err := abi.Split(outer, nil)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := abi.Field(fs[0], 0)
	if err != nil || string(inner) != "inner" || string(fs[1]) != "after" {
		t.Fatalf("nested frame: inner %q (%v), after %q", inner, err, fs[1])
	}
}

func TestMalformedFrames(t *testing.T) {
	good := abi.AppendFieldString(abi.AppendFrame(nil, 1), "abc")
	cases := map[string][]byte{
		"empty":           nil,
		"short count":     {1, 0},
		"huge count":      {0xff, 0xff, 0xff, 0x7f},
		"missing length":  {1, 0, 0, 0, 3},
		"length too long": {1, 0, 0, 0, 9, 0, 0, 0, 'a'},
		"trailing bytes":  append(append([]byte{}, good...), 'x'),
		"truncated data":  good[:len(good)-1],
	}
	for name, f := range cases {
		if _, err := abi.Split(f, nil); !errors.Is(err, abi.ErrFrame) {
			t.Errorf("%s: Split error = %v, want ErrFrame", name, err)
		}
	}
	if _, err := abi.Field(good, 1); !errors.Is(err, abi.ErrFrame) {
		t.Errorf("Field out of range: %v", err)
	}
}

func TestSplitDoesNotAllocate(t *testing.T) {
	f := abi.AppendFrame(nil, 3)
	for _, s := range []string{"a", "bb", "ccc"} {
		f = abi.AppendFieldString(f, s)
	}
	dst := make([][]byte, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		dst, err = abi.Split(f, dst[:0])
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Split allocated %.1f times per run", allocs)
	}
}

func TestGuestErrorJSON(t *testing.T) {
	e := &abi.GuestError{Code: abi.CodeBadRequest, Message: "bad \"x\"\n<script>", Field: "messages[0].to"}
	doc := e.AppendJSON(nil)
	var back abi.GuestError
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatalf("AppendJSON produced invalid JSON %s: %v", doc, err)
	}
	if back != *e {
		t.Errorf("round trip = %+v, want %+v", back, *e)
	}
	if got := abi.ParseGuestError(doc); *got != *e {
		t.Errorf("ParseGuestError = %+v", got)
	}
	for _, bad := range []string{"", "{", `{"message":"no code"}`, "[1]"} {
		if got := abi.ParseGuestError([]byte(bad)); got.Code != abi.CodeInternal {
			t.Errorf("ParseGuestError(%q).Code = %q, want internal", bad, got.Code)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	cases := []string{
		"plain", "", "quote\" back\\slash", "ctl\x00\x01\x1f\t\r\n", "<>&", "\u2028\u2029",
		"中文 emoji 😀", "bad \xff\xfe utf8", "\xe2\x82",
	}
	for _, s := range cases {
		out := abi.AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Errorf("%q encoded as %s: invalid JSON: %v", s, out, err)
			continue
		}
		want := s
		if !utf8.ValidString(s) {
			want = string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
			// ToValidUTF8 merges a run of bad bytes into one replacement;
			// the encoder replaces each byte. Compare after removing them.
			want = stripFFFD(want)
			back = stripFFFD(back)
		}
		if back != want {
			t.Errorf("%q round-tripped to %q", s, back)
		}
		if bytes.ContainsAny(out, "\n\r<>&") {
			t.Errorf("%q: output %s carries a raw character that must be escaped", s, out)
		}
	}
}

func stripFFFD(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("\uFFFD"), nil)) }

func FuzzAppendJSONString(f *testing.F) {
	f.Add("hello")
	f.Add("\xff\"\\\n\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := abi.AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	})
}
