package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
	"github.com/tidwall/gjson"
)

// caseDir holds the Easemob golden cases, one per file.
const caseDir = "../../testdata/easemob"

// self is this plugin's dialect.
const self = "easemob"

// TestCases runs every golden case natively, then against easemob.wasm in
// the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/easemob -run TestCases -update
//
// and review the diff: a golden file is a claim about the vendor's API.
func TestCases(t *testing.T) {
	sdktest.Run(t, caseDir, sdktest.Native(), sdktest.Wasm("easemob.wasm"))
}

// frame builds a hook input from its fields.
func frame(fields ...string) []byte {
	in := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		in = abi.AppendFieldString(in, f)
	}
	return in
}

// call runs hook natively and fails the test on a guest error.
func call(t testing.TB, hook abi.Hook, fields ...string) []byte {
	t.Helper()
	out, isErr := sdk.Dispatch(hook, frame(fields...))
	if isErr {
		t.Fatalf("%s: %s", hook, out)
	}
	return append([]byte(nil), out...)
}

// requests splits EncodeRequest's output into each request's fields.
func requests(t testing.TB, out []byte) [][][]byte {
	t.Helper()
	list, err := abi.Split(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reqs [][][]byte
	for _, r := range list {
		f, err := abi.Split(r, nil)
		if err != nil || len(f) != abi.RequestFields {
			t.Fatalf("request frame: %v (%d fields)", err, len(f))
		}
		reqs = append(reqs, f)
	}
	return reqs
}

// TestUsersSplitAt600 checks the users limit, too big for a golden file:
// 1201 users go in calls of 600, 600 and 1, and the tags cover each user
// exactly once, in order.
func TestUsersSplitAt600(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"v":1,"messages":[{"kind":"text","text":"hi","to":{"users":[`)
	for i := range 1201 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"u%d"`, i)
	}
	b.WriteString(`]}}]}`)
	reqs := requests(t, call(t, abi.HookEncodeRequest, `{"org":"o","app":"a"}`, b.String()))
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	next := 0
	for i, r := range reqs {
		to := gjson.GetBytes(r[abi.RequestFieldBody], "to").Array()
		tag := gjson.GetBytes(r[abi.RequestFieldTag], "to").Array()
		if want := []int{600, 600, 1}[i]; len(to) != want || len(tag) != want {
			t.Fatalf("request %d carries %d users (tag %d), want %d", i, len(to), len(tag), want)
		}
		for j := range to {
			if w := fmt.Sprintf("u%d", next); to[j].Str != w || tag[j].Str != w {
				t.Fatalf("request %d item %d = %s (tag %s), want %s", i, j, to[j].Str, tag[j].Str, w)
			}
			next++
		}
	}
}

// TestDataInAnyOrder checks that recipients are matched to Easemob's data
// map by key, whatever the order of the answer.
func TestDataInAnyOrder(t *testing.T) {
	answers := abi.AppendFrame(nil, 1)
	var m int
	answers, m = abi.BeginField(answers)
	answers = abi.AppendFrame(answers, abi.ResponseFields)
	answers = abi.AppendFieldString(answers, `{"m":0,"t":"user","to":["a","b","c"]}`)
	answers = abi.AppendFieldString(answers, "200")
	answers = abi.AppendFieldString(answers, "application/json")
	answers = abi.AppendFieldString(answers, `{"data":{"c":"3","a":"1"}}`)
	answers = abi.EndField(answers, m)
	out := call(t, abi.HookDecodeResponse, `{"org":"o","app":"a"}`, `{"v":1,"messages":[]}`, string(answers))
	got := gjson.GetBytes(out, `results.#.id`).Raw + gjson.GetBytes(out, `results.#.ok`).Raw
	if got != `["1","3"][true,false,true]` {
		t.Fatalf("results %s", out)
	}
}

// FuzzDecodeRequest feeds the decoder arbitrary paths, queries and bodies,
// seeded with every golden request. The decoder must never panic, must
// answer a client error (never an internal one) or a valid batch, and every
// batch it produces must be accepted by the encoder.
func FuzzDecodeRequest(f *testing.F) {
	cases, err := sdktest.LoadCases(caseDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		if c.HookName() != "decode_request" {
			continue
		}
		path, _ := c.Value("path")
		query, _ := c.Value("query")
		body, _ := c.Value("body")
		f.Add(path, query, body)
	}
	f.Fuzz(func(t *testing.T, path, query, body string) {
		out, isErr := sdk.Dispatch(abi.HookDecodeRequest, frame("{}", "POST", path, query, "application/json", body))
		if isErr {
			ge := abi.ParseGuestError(out)
			if ge.Code != abi.CodeBadRequest && ge.Code != abi.CodeNotFound {
				t.Fatalf("decode error %s for body %q", out, body)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("decode output is not JSON: %s", out)
		}
		batch := string(out)
		if _, isErr := sdk.Dispatch(abi.HookEncodeRequest, frame(`{"org":"o","app":"a"}`, batch)); isErr {
			t.Fatalf("the encoder refused the decoder's batch %s", batch)
		}
	})
}

// TestEncodeWhatOthersDecode encodes, under policy degrade, every batch the
// other dialects' decoders produce (their golden decode outputs, which their
// own tests prove natively and in wasm): every one must be accepted — what
// cannot be carried is degraded or reported, never an error.
func TestEncodeWhatOthersDecode(t *testing.T) {
	opts := `{"org":"acme","app":"chat","policy":"degrade","sender":"relay"}`
	batches, err := sdktest.DecodedBatches("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range batches {
		if strings.HasPrefix(b.Name, self+"/") {
			continue
		}
		n++
		if out, isErr := sdk.Dispatch(abi.HookEncodeRequest, frame(opts, b.JSON)); isErr {
			t.Errorf("%s: encoding %s\n%s", b.Name, b.JSON, out)
		}
	}
	if n == 0 {
		t.Fatal("no other dialect's batches to encode")
	}
}
