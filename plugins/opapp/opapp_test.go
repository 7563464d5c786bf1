package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
	"github.com/tidwall/gjson"
)

// caseDir holds the opapp golden cases, one per file.
const caseDir = "../../testdata/opapp"

// self is this plugin's dialect.
const self = "opapp"

// TestCases runs every golden case natively, then against opapp.wasm in
// the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/opapp -run TestCases -update
//
// and review the diff: a golden file is a claim about the dialect.
func TestCases(t *testing.T) {
	sdktest.Run(t, caseDir, sdktest.Native(), sdktest.Wasm("opapp.wasm"))
}

// frame builds a hook input from its fields.
func frame(fields ...string) []byte {
	in := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		in = abi.AppendFieldString(in, f)
	}
	return in
}

// answers builds DecodeResponse's answers field: (tag, status, body)
// triples.
func answers(list ...[3]string) string {
	out := abi.AppendFrame(nil, len(list))
	for _, a := range list {
		var m int
		out, m = abi.BeginField(out)
		out = abi.AppendFrame(out, abi.ResponseFields)
		out = abi.AppendFieldString(out, a[0])
		out = abi.AppendFieldString(out, a[1])
		out = abi.AppendFieldString(out, "application/json")
		out = abi.AppendFieldString(out, a[2])
		out = abi.EndField(out, m)
	}
	return string(out)
}

// TestFailureTextsThatDoNotCount checks that when the bracketed message
// does not list one text per failed message, every failure gets the whole
// message rather than a wrong one.
func TestFailureTextsThatDoNotCount(t *testing.T) {
	batch := `{"v":1,"messages":[{"kind":"text","from":"f","to":{"users":["a","b"]},"text":"x"}]}`
	tag := `[[0,"user","a","txt"],[0,"user","b","txt"]]`
	body := `{"code":500,"message":"[e1, e2, e3]","data":[{"msgType":"txt","msgBody":{"toUser":"b","targetType":"users"}}]}`
	out, isErr := sdk.Dispatch(abi.HookDecodeResponse, frame("{}", batch, answers([3]string{tag, "200", body})))
	if isErr {
		t.Fatalf("%s", out)
	}
	got := gjson.GetBytes(out, "results.#.ok").Raw + gjson.GetBytes(out, "results.1.error").Str
	if got != "[true,false][e1, e2, e3]" {
		t.Fatalf("results %s", out)
	}
}

// TestDecodeTextDoesNotAllocate guards the hot path: decoding a plain text
// batch allocates nothing once the SDK's buffers have grown.
func TestDecodeTextDoesNotAllocate(t *testing.T) {
	in := frame("{}", "POST", "/opapp/send2EasemobMessage", "", "application/json",
		`{"reqUrl":"/hxSend/send2EasemobMessage","messages":[{"msgType":"txt","msgBody":{"toUser":"u1","fromUser":"op1","msgType":"txt","msg":"hi","targetType":"users"},"fileUrl":""}]}`)
	allocs := testing.AllocsPerRun(100, func() {
		if out, isErr := sdk.Dispatch(abi.HookDecodeRequest, in); isErr {
			t.Fatalf("%s", out)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding a text allocates %.0f times", allocs)
	}
}

// FuzzDecodeRequest feeds the decoder arbitrary bodies, seeded with every
// golden request. It must never panic, must answer a client error (never an
// internal one) or a valid batch, and every batch it produces must be
// accepted by the opapp encoder (opapp to opapp carries every kind).
func FuzzDecodeRequest(f *testing.F) {
	cases, err := sdktest.LoadCases(caseDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		if c.HookName() == "decode_request" {
			body, _ := c.Value("body")
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, isErr := sdk.Dispatch(abi.HookDecodeRequest, frame("{}", "POST", "/opapp/send2EasemobMessage", "", "application/json", body))
		if isErr {
			if ge := abi.ParseGuestError(out); ge.Code != abi.CodeBadRequest {
				t.Fatalf("decode error %s for body %q", out, body)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("decode output is not JSON: %s", out)
		}
		batch := string(out)
		if enc, isErr := sdk.Dispatch(abi.HookEncodeRequest, frame("{}", batch)); isErr {
			t.Fatalf("the encoder refused the decoder's batch %s: %s", batch, enc)
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
