package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
)

// caseDir holds the getsender golden cases, one per file.
const caseDir = "../../testdata/getsender"

// self is this plugin's dialect.
const self = "getsender"

// TestCases runs every golden case natively, then against getsender.wasm in
// the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/getsender -run TestCases -update
//
// and review the diff: a golden file is a claim about the dialect.
func TestCases(t *testing.T) {
	sdktest.Run(t, caseDir, sdktest.Native(), sdktest.Wasm("getsender.wasm"))
}

// frame builds a hook input from its fields.
func frame(fields ...string) []byte {
	in := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		in = abi.AppendFieldString(in, f)
	}
	return in
}

// TestDecodeTextDoesNotAllocate guards the hot path: decoding a plain text
// message allocates nothing once the SDK's buffers have grown.
func TestDecodeTextDoesNotAllocate(t *testing.T) {
	in := frame("{}", "POST", "/sender/v1/handleBusinessMessage", "", "application/json",
		`{"messageType":1,"from":"op1","userId":"u1","isDisturb":true,"messageInfo":{"msg":"hi"},"ext":{"chatid":"c1"}}`)
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
// accepted by the getsender encoder (getsender to getsender carries every
// kind).
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
		out, isErr := sdk.Dispatch(abi.HookDecodeRequest, frame("{}", "POST", "/sender/v1/handleBusinessMessage", "", "application/json", body))
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
