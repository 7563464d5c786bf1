package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/imrelay/imrelay/sdk/sdktest"
	"github.com/tidwall/gjson"
)

// casesDir holds the codec's golden cases, one per file.
const casesDir = "../../testdata/netease"

// TestCases runs every golden case natively, then against netease.wasm in
// the relay's host. Rewrite the expected outputs with
//
//	go test ./plugins/netease -run TestCases -update
func TestCases(t *testing.T) {
	sdktest.Run(t, casesDir, sdktest.Native(), sdktest.Wasm("netease.wasm"))
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

// answer appends one provider answer frame to a responses frame.
func answer(dst []byte, tag []byte, status, body string) []byte {
	var m int
	dst, m = abi.BeginField(dst)
	dst = abi.AppendFrame(dst, abi.ResponseFields)
	dst = abi.AppendField(dst, tag)
	dst = abi.AppendFieldString(dst, status)
	dst = abi.AppendFieldString(dst, "application/json")
	dst = abi.AppendFieldString(dst, body)
	return abi.EndField(dst, m)
}

func accounts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "u" + strconv.Itoa(i)
	}
	return out
}

// TestBatchSplit checks that 250 receivers become v2 batch calls of at
// most 100 (v1: sendBatchMsg calls of at most 100 with returnMsgid) that
// cover each receiver once, and that the answers come back as one result
// per receiver.
func TestBatchSplit(t *testing.T) {
	users := accounts(250)
	list, _ := json.Marshal(users)
	batch := `{"v":1,"messages":[{"kind":"text","from":"alice","text":"hi","to":{"users":` + string(list) + `}}]}`
	for _, api := range []string{"v2", "v1"} {
		out, gerr := call(t, abi.HookEncodeRequest, `{"api":"`+api+`"}`, batch)
		if gerr != nil {
			t.Fatal(gerr)
		}
		reqs := requests(t, out)
		if len(reqs) != 3 {
			t.Fatalf("%s: %d requests, want 3", api, len(reqs))
		}
		seen := map[string]int{}
		answers := abi.AppendFrame(nil, len(reqs))
		for _, r := range reqs {
			var got []string
			if api == "v2" {
				if string(r[abi.RequestFieldPath]) != "/nimserver/im/v2/conversations/messages" {
					t.Fatalf("v2 batch path %q", r[abi.RequestFieldPath])
				}
				for _, v := range gjson.GetBytes(r[abi.RequestFieldBody], "receiver_ids").Array() {
					got = append(got, v.Str)
				}
			} else {
				form, err := url.ParseQuery(string(r[abi.RequestFieldBody]))
				if err != nil {
					t.Fatal(err)
				}
				if form.Get("returnMsgid") != "true" || form.Get("fromAccid") != "alice" || form.Get("body") != `{"msg":"hi"}` {
					t.Fatalf("v1 batch form %v", form)
				}
				if err := json.Unmarshal([]byte(form.Get("toAccids")), &got); err != nil {
					t.Fatal(err)
				}
			}
			if len(got) > 100 {
				t.Fatalf("%s: a call carries %d receivers", api, len(got))
			}
			for _, u := range got {
				seen[u]++
			}
			// The provider accepts everyone but the first receiver of
			// each call.
			var body string
			if api == "v2" {
				var ok []string
				for _, u := range got[1:] {
					ok = append(ok, `{"message_server_id":1,"receiver_id":"`+u+`"}`)
				}
				body = `{"code":200,"msg":"success","data":{"success_list":[` + strings.Join(ok, ",") +
					`],"failed_list":[{"receiver_id":"` + got[0] + `","error_code":404,"error_msg":"no"}]}}`
			} else {
				body = `{"code":200,"unregister":["` + got[0] + `"],"msgids":{}}`
			}
			answers = answer(answers, r[abi.RequestFieldTag], "200", body)
		}
		if len(seen) != 250 {
			t.Fatalf("%s: covered %d receivers, want 250", api, len(seen))
		}
		res, gerr := call(t, abi.HookDecodeResponse, "{}", batch, string(answers))
		if gerr != nil {
			t.Fatal(gerr)
		}
		results := gjson.Get(res, "results").Array()
		failed := 0
		for _, r := range results {
			if !r.Get("ok").Bool() {
				failed++
			}
		}
		if len(results) != 250 || failed != 3 {
			t.Fatalf("%s: %d results, %d failed; want 250, 3", api, len(results), failed)
		}
	}
}

// TestConversationPath checks that the v2 path carries exactly the
// conversation id, escaped, whatever characters an account from another
// dialect has.
func TestConversationPath(t *testing.T) {
	for _, to := range []string{"bob", "b@corp.example", "张三", "a+b", "x~y_z.w"} {
		batch := `{"v":1,"messages":[{"kind":"text","from":"alice","text":"hi","to":{"users":["` + to + `"]}}]}`
		out, gerr := call(t, abi.HookEncodeRequest, "{}", batch)
		if gerr != nil {
			t.Fatalf("%q: %v", to, gerr)
		}
		path := string(requests(t, out)[0][abi.RequestFieldPath])
		seg := strings.TrimSuffix(strings.TrimPrefix(path, "/nimserver/im/v2/conversations/"), "/messages")
		if strings.ContainsAny(seg, "/|?#") {
			t.Fatalf("%q: segment %q is not escaped", to, seg)
		}
		id, err := url.PathUnescape(seg)
		if err != nil || id != "alice|1|"+to {
			t.Fatalf("%q: path %q decodes to %q, %v", to, path, id, err)
		}
	}
}

// TestFormEscape checks the append-style escaper against net/url.
func TestFormEscape(t *testing.T) {
	for _, s := range []string{"", "plain", "a b&c=d+e%f", `{"msg":"哈哈"}`, "~-._", "\x00\xff/?#[]"} {
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscape(%q) = %q, want %q", s, got, want)
		}
		back, ok := appendUnescape(nil, url.QueryEscape(s), true)
		if !ok || string(back) != s {
			t.Errorf("appendUnescape(QueryEscape(%q)) = %q, %v", s, back, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%zz", "a%g1"} {
		if _, ok := appendUnescape(nil, bad, true); ok {
			t.Errorf("appendUnescape(%q) accepted", bad)
		}
	}
}

// TestTimetagClock checks that without the route option now the v1
// answer's timetag comes from the clock, in milliseconds.
func TestTimetagClock(t *testing.T) {
	before := time.Now().UnixMilli()
	batch := `{"v":1,"messages":[{"kind":"text","from":"alice","text":"hi","to":{"users":["bob"]}}],"vendor":{"netease":{"endpoint":"v1"}}}`
	out, gerr := call(t, abi.HookEncodeResponse, "{}", batch, `{"v":1,"results":[{"message":0,"to":"bob","to_type":"user","ok":true,"id":"5"}]}`, "")
	if gerr != nil {
		t.Fatal(gerr)
	}
	f, err := abi.Split([]byte(out), nil)
	if err != nil {
		t.Fatal(err)
	}
	tt := gjson.GetBytes(f[abi.ResponseFieldBody], "data.timetag").Int()
	if tt < before || tt > time.Now().UnixMilli() {
		t.Fatalf("timetag %d is not the time of the call", tt)
	}
}

// TestParseTag checks the tag grammar, including what it must refuse.
func TestParseTag(t *testing.T) {
	got, ok := parseTag("2b 3 u100-200 ~news→text")
	want := tagInfo{ep: "2b", msg: 3, list: 'u', lo: 100, hi: 200, label: "news→text"}
	if !ok || got != want {
		t.Fatalf("parseTag = %+v, %v; want %+v", got, ok, want)
	}
	for _, bad := range []string{"", "2b", "2x 0 u0-1", "2b -1 u0-1", "2b 0 x0-1", "2b 0 u1-1", "2b 0 u0-1 label", "1s 0 u0"} {
		if _, ok := parseTag(bad); ok {
			t.Errorf("parseTag(%q) accepted", bad)
		}
	}
}

// TestDecodeAllocs guards the decoder's allocations for a v2 text and a v1
// form: they read in place and write with the reused builder.
func TestDecodeAllocs(t *testing.T) {
	for _, c := range []struct{ path, body string }{
		{"/im/v2/conversations/alice%7C1%7Cbob/messages", `{"message":{"message_type":0,"text":"hello"}}`},
		{"/nimserver/msg/sendMsg.action", "from=alice&ope=0&to=bob&type=0&body=%7B%22msg%22%3A%22hello%22%7D"},
	} {
		in := abi.AppendFrame(nil, 6)
		for _, f := range []string{"{}", "POST", c.path, "", "", c.body} {
			in = abi.AppendFieldString(in, f)
		}
		if _, isErr := sdk.Dispatch(abi.HookDecodeRequest, in); isErr {
			t.Fatalf("%s: decode failed", c.path)
		}
		if n := testing.AllocsPerRun(100, func() { sdk.Dispatch(abi.HookDecodeRequest, in) }); n > 0 {
			t.Errorf("%s: DecodeRequest allocates %.0f times per message, want 0", c.path, n)
		}
	}
}

// TestEncodeAllocs guards the encoder's allocations for a text message in
// each request form: message, configs and form fields are built in place.
func TestEncodeAllocs(t *testing.T) {
	for _, c := range []struct{ opts, to string }{
		{`{}`, `["bob"]`}, {`{}`, `["bob","carol"]`},
		{`{"api":"v1"}`, `["bob"]`}, {`{"api":"v1"}`, `["bob","carol"]`},
	} {
		batch := `{"v":1,"messages":[{"kind":"text","from":"alice","text":"hello","to":{"users":` + c.to + `},"options":{"silent":true}}]}`
		in := abi.AppendFrame(nil, 2)
		in = abi.AppendFieldString(in, c.opts)
		in = abi.AppendFieldString(in, batch)
		if _, isErr := sdk.Dispatch(abi.HookEncodeRequest, in); isErr {
			t.Fatalf("%s %s: encode failed", c.opts, c.to)
		}
		if n := testing.AllocsPerRun(100, func() { sdk.Dispatch(abi.HookEncodeRequest, in) }); n > 1 {
			// sdk.RoutePolicy reads the options with gjson.GetBytes,
			// which copies its result: that one allocation is the SDK's.
			t.Errorf("%s to %s: EncodeRequest allocates %.0f times, want at most 1", c.opts, c.to, n)
		}
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
