package sdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

func TestRoutePolicy(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want Policy
		err  bool
	}{
		{`{}`, PolicyReject, false},
		{``, PolicyReject, false},
		{`{"policy":""}`, PolicyReject, false},
		{`{"policy":null}`, PolicyReject, false},
		{`{"policy":"reject"}`, PolicyReject, false},
		{`{"policy":"degrade"}`, PolicyDegrade, false},
		{`{"policy":"Degrade"}`, PolicyReject, true},
		{`{"policy":1}`, PolicyReject, true},
	} {
		got, err := RoutePolicy([]byte(tc.opts))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("RoutePolicy(%s) = %q, %v; want %q, error %v", tc.opts, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), "options.policy") {
			t.Errorf("RoutePolicy(%s) error %q does not name the option", tc.opts, err)
		}
	}
}

func TestEachRecipientOrder(t *testing.T) {
	msg := Parse([]byte(`{"to":{"all":true,"emails":["e@x"],"departments":["d1"],"rooms":["r1"],"groups":["g1","",7],"users":["u1","u2"]}}`))
	var got []string
	EachRecipient(msg, func(typ, id string) bool {
		got = append(got, typ+":"+id)
		return true
	})
	want := "user:u1 user:u2 group:g1 room:r1 department:d1 email:e@x all:"
	if strings.Join(got, " ") != want {
		t.Fatalf("EachRecipient visited %q, want %q", strings.Join(got, " "), want)
	}
	if n := CountRecipients(msg); n != 7 {
		t.Fatalf("CountRecipients = %d, want 7", n)
	}
	got = got[:0]
	EachRecipient(msg, func(typ, id string) bool {
		got = append(got, id)
		return len(got) < 3
	})
	if len(got) != 3 {
		t.Fatalf("EachRecipient did not stop after fn returned false: %q", got)
	}
	if n := CountRecipients(Parse([]byte(`{"to":"alice"}`))); n != 0 {
		t.Fatalf("CountRecipients of a non-object to = %d, want 0", n)
	}
}

func TestEachRecipientDoesNotAllocate(t *testing.T) {
	msg := Parse([]byte(`{"to":{"users":["u1","u2","u3"],"groups":["g1"]}}`))
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		n += CountRecipients(msg)
	})
	if allocs != 0 {
		t.Fatalf("CountRecipients allocates %.0f times per call", allocs)
	}
}

func TestToTypeOfAndListOf(t *testing.T) {
	for _, l := range []string{ToUsers, ToGroups, ToRooms, ToDepartments, ToEmails, ToAll} {
		if back := ListOf(ToTypeOf(l)); back != l {
			t.Errorf("ListOf(ToTypeOf(%q)) = %q", l, back)
		}
	}
	if ToTypeOf("nobody") != "" || ListOf("nobody") != "" {
		t.Error("unknown keys must map to empty strings")
	}
}

func TestIsKind(t *testing.T) {
	for _, k := range Kinds {
		if !IsKind(k) {
			t.Errorf("IsKind(%q) = false", k)
		}
	}
	if IsKind("txt") || IsKind("") {
		t.Error("IsKind accepts a dialect's own type name")
	}
}

func TestBatch(t *testing.T) {
	msgs, err := Batch([]byte(`{"v":1,"messages":[{"kind":"text"}]}`))
	if err != nil || len(msgs.Array()) != 1 {
		t.Fatalf("Batch = %v, %v", msgs.Raw, err)
	}
	for _, bad := range []string{`{"v":2,"messages":[]}`, `[1]`, `{"messages":{}}`, `"x"`} {
		if _, err := Batch([]byte(bad)); err == nil {
			t.Errorf("Batch(%s) accepted", bad)
		}
	}
	// Invalid JSON is the relay's to refuse (abi.FieldBatch): Batch reads
	// what it can and must not panic.
	for _, broken := range []string{`{`, `{"messages":[{"kind":"text"}`, `{"messages":[{"kind":`, ``} {
		Batch([]byte(broken))
	}
}

func TestResultsDocument(t *testing.T) {
	var out JSON
	BeginResults(&out)
	AppendResult(&out, &Result{Message: 0, To: "alice", ToType: ToTypeUser, OK: true, ID: "42"})
	AppendResult(&out, &Result{Message: 1, To: "g1", ToType: ToTypeGroup, Error: "no such group", Status: 404, Degraded: "location→text"})
	EndResults(&out)
	want := `{"v":1,"results":[{"message":0,"to":"alice","to_type":"user","ok":true,"id":"42"},` +
		`{"message":1,"to":"g1","to_type":"group","ok":false,"code":"upstream","error":"no such group","status":404,"degraded":"location→text"}]}`
	if string(out.Bytes()) != want {
		t.Fatalf("results:\n got %s\nwant %s", out.Bytes(), want)
	}
	if !json.Valid(out.Bytes()) {
		t.Fatal("results document is not valid JSON")
	}

	out.Reset()
	out.Object().Key(KeyVersion).Int(ModelVersion).Key(ResultsError)
	AppendGuestError(&out, &abi.GuestError{Code: abi.CodeBusy, Message: "shed"})
	out.End()
	code, msg, field, ok := TopError(Parse(out.Bytes()))
	if !ok || code != abi.CodeBusy || msg != "shed" || field != "" {
		t.Fatalf("TopError = %q %q %q %v", code, msg, field, ok)
	}
	if _, _, _, ok := TopError(Parse([]byte(`{"v":1,"results":[]}`))); ok {
		t.Fatal("TopError found an error in a document without one")
	}
}

func TestAppendFallbackText(t *testing.T) {
	for _, tc := range []struct {
		msg, text, label string
		ok               bool
	}{
		{`{"kind":"text","text":"hi"}`, "hi", "", true},
		{`{"kind":"location","location":{"lat":39.9,"lng":116.3,"address":"Beijing"}}`, "Beijing (39.9,116.3)", "location→text", true},
		{`{"kind":"location","location":{"lat":"1.5","lng":2}}`, "(1.5,2)", "location→text", true},
		{`{"kind":"image","media":{"name":"a.jpg","url":"https://x/a.jpg"}}`, "a.jpg https://x/a.jpg", "image→text", true},
		{`{"kind":"news","articles":[{"title":"T1","url":"u1"},{"title":"T2","digest":"D2"}]}`, "T1 u1\nT2 D2", "news→text", true},
		{`{"kind":"link","link":{"title":"Open","url":"https://x"}}`, "Open https://x", "link→text", true},
		{`{"kind":"system","system":{"title":"Notice","items":[{"text":"a"},{"link":{"title":"b","url":"u"}}]}}`, "Notice\na\nb u", "system→text", true},
		{`{"kind":"mail","mail":{"subject":"S","link":"L"}}`, "S L", "mail→text", true},
		{`{"kind":"template","template":{"id":3,"content":"{}"},"text":"t"}`, "t {}", "template→text", true},
		{`{"kind":"command","command":{"action":"x"}}`, "", "", false},
		{`{"kind":"image","media":{"media_id":"m1"}}`, "", "", false},
	} {
		got, label, ok := AppendFallbackText(nil, Parse([]byte(tc.msg)))
		if string(got) != tc.text || label != tc.label || ok != tc.ok {
			t.Errorf("AppendFallbackText(%s) = %q, %q, %v; want %q, %q, %v", tc.msg, got, label, ok, tc.text, tc.label, tc.ok)
		}
	}
}

func TestNowMillis(t *testing.T) {
	if got := NowMillis([]byte(`{"now":1700000000123}`)); got != 1700000000123 {
		t.Fatalf("NowMillis with options.now = %d", got)
	}
	if got := NowMillis([]byte(`{}`)); got < 1700000000000 {
		t.Fatalf("NowMillis without options.now = %d, want the clock", got)
	}
}

func TestCodeOfHTTP(t *testing.T) {
	for status, want := range map[int]abi.Code{200: "", 400: abi.CodeBadRequest, 401: abi.CodeUpstream, 413: abi.CodeTooLarge, 429: abi.CodeRateLimited, 500: abi.CodeUpstream, 503: abi.CodeBusy, 504: abi.CodeTimeout} {
		if got := CodeOfHTTP(status); got != want {
			t.Errorf("CodeOfHTTP(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestAppendRecipients(t *testing.T) {
	msg := Parse([]byte(`{"to":{"users":["a","",7,"bad id","c"],"groups":"g1","rooms":null}}`))
	to := msg.Get(KeyTo)
	refuse := func(id string) string {
		if id == "bad id" {
			return "has a space"
		}
		return ""
	}
	got, err := AppendRecipients([]string{"x"}, 1, ToUsers, to.Get(ToUsers), nil)
	if err != nil || strings.Join(got, ",") != "x,a,bad id,c" {
		t.Errorf("no check: %q, %v", got, err)
	}
	got, err = AppendRecipients(nil, 1, ToUsers, to.Get(ToUsers), refuse)
	var ge *abi.GuestError
	if !errors.As(err, &ge) || ge.Field != "messages[1].to.users[3]" || ge.Message != `"bad id" has a space` || strings.Join(got, ",") != "a" {
		t.Errorf("refused id: %q, %+v", got, ge)
	}
	if _, err = AppendRecipients(nil, 0, ToGroups, to.Get(ToGroups), nil); !errors.As(err, &ge) || ge.Field != "messages[0].to.groups" {
		t.Errorf("not an array: %v", err)
	}
	for _, list := range []string{ToRooms, ToEmails} {
		if got, err := AppendRecipients(nil, 0, list, to.Get(list), refuse); err != nil || len(got) != 0 {
			t.Errorf("%s (null or absent): %q, %v", list, got, err)
		}
	}
	if q := Quote(strings.Repeat("é", 40)); !strings.HasSuffix(q, `…"`) || len(q) > 64+len(`"…"`) {
		t.Errorf("Quote does not cut at 64 bytes: %s", q)
	}
}
