package main

import (
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
	"github.com/tidwall/gjson"
)

// casesDir holds the codec's golden cases, one per file.
const casesDir = "../../testdata/youdu"

// TestCases runs every golden case natively, then against youdu.wasm in
// the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/youdu -run TestCases -update
func TestCases(t *testing.T) {
	sdktest.Run(t, casesDir, sdktest.Native(), sdktest.Wasm("youdu.wasm"))
}

// call runs one hook natively with the given input fields.
func call(t testing.TB, hook abi.Hook, fields ...string) (string, *abi.GuestError) {
	t.Helper()
	in := abi.AppendFrame(nil, len(fields))
	for _, f := range fields {
		in = abi.AppendFieldString(in, f)
	}
	out, isErr := sdk.Dispatch(hook, in)
	if isErr {
		return "", abi.ParseGuestError(out)
	}
	return string(out), nil
}

func decode(t testing.TB, body string) (string, *abi.GuestError) {
	t.Helper()
	return call(t, abi.HookDecodeRequest, "{}", "POST", sendPath, "", "application/json", body)
}

// requests splits an EncodeRequest output frame into its requests' fields.
func requests(t testing.TB, frame string) [][][]byte {
	t.Helper()
	outer, err := abi.Split([]byte(frame), nil)
	if err != nil {
		t.Fatal(err)
	}
	var reqs [][][]byte
	for _, r := range outer {
		f, err := abi.Split(r, nil)
		if err != nil || len(f) != abi.RequestFields {
			t.Fatalf("request frame: %v (%d fields)", err, len(f))
		}
		reqs = append(reqs, f)
	}
	return reqs
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strings.Repeat("0", 4-len(itoa(i))) + itoa(i)
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func jsonList(list []string) string {
	return `["` + strings.Join(list, `","`) + `"]`
}

// TestSplitAtLimits checks that 2500 users and 150 departments plus the
// whole organisation become three requests that together cover every
// recipient exactly once, within Youdu's limits, and that the answers map
// back to one result per recipient.
func TestSplitAtLimits(t *testing.T) {
	users, depts := ids("u", 2500), make([]string, 150)
	for i := range depts {
		depts[i] = itoa(i + 1)
	}
	batch := `{"v":1,"messages":[{"kind":"text","text":"hi","to":{"users":` + jsonList(users) +
		`,"departments":` + jsonList(depts) + `,"all":true}}]}`
	out, gerr := call(t, abi.HookEncodeRequest, "{}", batch)
	if gerr != nil {
		t.Fatal(gerr)
	}
	reqs := requests(t, out)
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	seenU, seenD, zeros := map[string]int{}, map[string]int{}, 0
	var answers []byte
	answers = abi.AppendFrame(answers, len(reqs))
	for i, r := range reqs {
		body := gjson.ParseBytes(r[abi.RequestFieldBody])
		u, d := body.Get("toUser").Str, body.Get("toDept").Str
		nu, nd := 0, 0
		for _, x := range strings.Split(u, "|") {
			if x != "" {
				seenU[x]++
				nu++
			}
		}
		for _, x := range strings.Split(d, "|") {
			switch x {
			case "":
			case "0":
				zeros++
				nd++
			default:
				seenD[x]++
				nd++
			}
		}
		if nu > maxUsers || nd > maxDepts {
			t.Errorf("request %d: %d users, %d departments: over Youdu's limits", i, nu, nd)
		}
		status := "200"
		resp := `{"errcode":0,"errmsg":"ok"}`
		if i == 2 {
			resp = `{"errcode":200007,"errmsg":"invalid toUser"}`
		}
		var m int
		answers, m = abi.BeginField(answers)
		answers = abi.AppendFrame(answers, abi.ResponseFields)
		answers = abi.AppendField(answers, r[abi.RequestFieldTag])
		answers = abi.AppendFieldString(answers, status)
		answers = abi.AppendFieldString(answers, "application/json")
		answers = abi.AppendFieldString(answers, resp)
		answers = abi.EndField(answers, m)
	}
	if len(seenU) != 2500 || len(seenD) != 150 || zeros != 1 {
		t.Fatalf("covered %d users, %d departments, all %d times; want 2500, 150, 1", len(seenU), len(seenD), zeros)
	}
	for k, n := range seenU {
		if n != 1 {
			t.Fatalf("user %s sent %d times", k, n)
		}
	}
	res, gerr := call(t, abi.HookDecodeResponse, "{}", batch, string(answers))
	if gerr != nil {
		t.Fatal(gerr)
	}
	list := gjson.Get(res, "results").Array()
	if len(list) != 2500+150+1 {
		t.Fatalf("got %d results, want %d", len(list), 2651)
	}
	failed := 0
	for _, r := range list {
		if !r.Get("ok").Bool() {
			failed++
			if r.Get("status").Int() != 200007 || r.Get("code").Str != "not_found" {
				t.Fatalf("failed result %s: want status 200007, code not_found", r.Raw)
			}
		}
	}
	if failed != 500 { // the third request carried users 2000..2499
		t.Fatalf("%d results failed, want 500", failed)
	}
}

// TestEncodeRejectsInjection checks that a recipient that would add
// recipients to a `|` list, or carries control or path characters, is
// refused instead of encoded.
func TestEncodeRejectsInjection(t *testing.T) {
	for _, id := range []string{`a|b`, `a\nb`, `../x`, `a%7Cb`, `a\\b`, `a\u0000b`} {
		batch := `{"v":1,"messages":[{"kind":"text","text":"hi","to":{"users":["ok","` + id + `"]}}]}`
		_, gerr := call(t, abi.HookEncodeRequest, "{}", batch)
		if gerr == nil || gerr.Code != abi.CodeBadRequest || gerr.Field != "messages[0].to.users[1]" {
			t.Errorf("user %s: got %v, want bad_request on messages[0].to.users[1]", id, gerr)
		}
	}
}

// TestParseTag checks the tag grammar, including what it must refuse.
func TestParseTag(t *testing.T) {
	got, ok := parseTag("3 u0-1000 d99-199 e5-7 a ~location→text")
	want := tagInfo{msg: 3, u: span{0, 1000}, d: span{99, 199}, e: span{5, 7}, all: true, label: "location→text"}
	if !ok || got != want {
		t.Fatalf("parseTag = %+v, %v; want %+v", got, ok, want)
	}
	for _, bad := range []string{"", "x", "-1", "0 u5-1", "0 u1", "0 z0-1", "0 u-1-2", "0 u0-x"} {
		if _, ok := parseTag(bad); ok {
			t.Errorf("parseTag(%q) accepted", bad)
		}
	}
}

// TestDecodeAllocs guards the decoder's allocations for a text message: it
// reads in place and writes with the reused builder.
func TestDecodeAllocs(t *testing.T) {
	body := `{"toUser":"alice|bob","toDept":"12","msgType":"text","text":{"content":"hello"}}`
	in := abi.AppendFrame(nil, 6)
	for _, f := range []string{"{}", "POST", sendPath, "", "application/json", body} {
		in = abi.AppendFieldString(in, f)
	}
	sdk.Dispatch(abi.HookDecodeRequest, in) // warm the buffers
	if n := testing.AllocsPerRun(100, func() { sdk.Dispatch(abi.HookDecodeRequest, in) }); n > 0 {
		t.Errorf("DecodeRequest allocates %.0f times per text message, want 0", n)
	}
}

// TestEncodeAllocs guards the encoder's allocations for a text message:
// the payload is built once and copied into each request.
func TestEncodeAllocs(t *testing.T) {
	batch := `{"v":1,"messages":[{"kind":"text","text":"hello","to":{"users":["alice","bob"],"departments":["12"]}}]}`
	in := abi.AppendFrame(nil, 2)
	in = abi.AppendFieldString(in, "{}")
	in = abi.AppendFieldString(in, batch)
	if _, isErr := sdk.Dispatch(abi.HookEncodeRequest, in); isErr {
		t.Fatal("encode failed")
	}
	if n := testing.AllocsPerRun(100, func() { sdk.Dispatch(abi.HookEncodeRequest, in) }); n > 1 {
		// sdk.RoutePolicy reads the options with gjson.GetBytes, which
		// copies its result: that one allocation is the SDK's.
		t.Errorf("EncodeRequest allocates %.0f times per text message, want at most 1", n)
	}
}

// TestForeignBatches encodes what every codec's golden decode cases
// produce (testdata/*/decode_request): a canonical batch from any dialect
// is sent, degraded, or refused as unsupported, never a bad_request or an
// internal error of this encoder.
func TestForeignBatches(t *testing.T) {
	batches, err := sdktest.DecodedBatches("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		for _, opts := range []string{`{"policy":"degrade","sender":"relay"}`, `{"sender":"relay"}`} {
			out, gerr := call(t, abi.HookEncodeRequest, opts, b.JSON)
			if gerr != nil {
				if gerr.Code != abi.CodeUnsupported {
					t.Errorf("%s %s: %v", b.Name, opts, gerr)
				}
				continue
			}
			if len(requests(t, out)) == 0 {
				t.Errorf("%s %s: no request and no error", b.Name, opts)
			}
		}
	}
}
