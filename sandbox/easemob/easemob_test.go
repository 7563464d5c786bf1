package easemob

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	e     *Emulator
	clk   *emu.ManualClock
	cli   *fasthttp.Client
	slept []time.Duration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: emu.NewManualClock(t0)}
	e, err := New(Config{Emu: emu.Config{Seed: 1, Now: f.clk.Now, Sleep: func(d time.Duration) { f.slept = append(f.slept, d) }}})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	srv := emu.StartInMemory(e.Handler())
	t.Cleanup(func() { _ = srv.Close() })
	f.cli = srv.Client()
	return f
}

type reply struct {
	status int
	raw    string
	m      map[string]any
}

func (f *fixture) call(method, path string, hdr map[string]string, body string) reply {
	f.t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://a1.sandbox" + path)
	req.Header.SetNoDefaultContentType(true)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	if err := f.cli.Do(req, resp); err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode(), raw: string(resp.Body())}
	_ = json.Unmarshal(resp.Body(), &r.m)
	return r
}

func (f *fixture) post(path, token, body string) reply {
	f.t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	return f.call("POST", path, hdr, body)
}

// wantErr checks an error answer field by field.
func (f *fixture) wantErr(r reply, status int, errType, desc string) {
	f.t.Helper()
	if r.status != status || r.m["error"] != errType || r.m["error_description"] != desc {
		f.t.Fatalf("got %d %s\nwant %d %s %q", r.status, r.raw, status, errType, desc)
	}
	if r.m["timestamp"] != float64(f.clk.Now().UnixMilli()) || r.m["duration"] != float64(0) {
		f.t.Fatalf("timestamp/duration: %s", r.raw)
	}
	if s, _ := r.m["exception"].(string); s == "" {
		f.t.Fatalf("no exception: %s", r.raw)
	}
}

func (f *fixture) token() string {
	f.t.Helper()
	r := f.post("/imrelay/demo/token", "", `{"grant_type":"client_credentials","client_id":"`+DemoClientID+`","client_secret":"`+DemoClientSecret+`"}`)
	if r.status != 200 {
		f.t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return r.m["access_token"].(string)
}

func TestErrorEnvelopeGolden(t *testing.T) {
	f := newFixture(t)
	r := f.post("/imrelay/demo/messages/users", "", `{}`)
	want := `{"error":"unauthorized","exception":"org.apache.usergrid.rest.exceptions.SecurityException",` +
		`"timestamp":1740830400000,"duration":0,"error_description":"Unable to authenticate due to expired access token"}`
	if r.status != 401 || r.raw != want {
		t.Fatalf("got %d %s\nwant %s", r.status, r.raw, want)
	}
}

func TestToken(t *testing.T) {
	f := newFixture(t)
	cred := `"grant_type":"client_credentials","client_id":"` + DemoClientID + `","client_secret":"` + DemoClientSecret + `"`
	cases := []struct {
		name    string
		ttl     string // JSON fragment, "" for none
		expires float64
	}{
		{"absent", "", 5184000},
		{"empty string", `,"ttl":""`, 5184000},
		{"null", `,"ttl":null`, 5184000},
		{"zero", `,"ttl":0`, 0},
		{"number", `,"ttl":3600`, 3600},
		{"numeric string", `,"ttl":"7200"`, 7200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.post("/imrelay/demo/token", "", "{"+cred+c.ttl+"}")
			if r.status != 200 || len(r.m) != 3 || r.m["expires_in"] != c.expires || r.m["application"] != DemoApplication {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			tok := r.m["access_token"].(string)
			if !strings.HasPrefix(tok, "YWMt") || !wellFormed(tok) {
				t.Fatalf("token %q", tok)
			}
		})
	}
	for _, bad := range []string{`-1`, `1.5`, `true`, `"abc"`, `{}`} {
		r := f.post("/imrelay/demo/token", "", "{"+cred+`,"ttl":`+bad+"}")
		f.wantErr(r, 400, "illegal_argument", "ttl must be a non-negative integer number of seconds")
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	id, sec := `"client_id":"`+DemoClientID+`"`, `"client_secret":"`+DemoClientSecret+`"`
	gt := `"grant_type":"client_credentials"`
	cases := []struct {
		body, err, desc string
	}{
		{"{" + id + "," + sec + "}", "illegal_argument", "grant_type must be provided."},
		{`{"grant_type":"password",` + id + "," + sec + "}", "unsupported_grant_type", "unsupported grant type: password"},
		{"{" + gt + "," + sec + "}", "illegal_argument", "client_id must be provided."},
		{"{" + gt + `,"client_id":"",` + sec + "}", "illegal_argument", "client_id must be provided."},
		{"{" + gt + "," + id + "}", "illegal_argument", "client_secret must be provided"},
		{"{" + gt + `,"client_id":"YXA6nope",` + sec + "}", "invalid_grant", "client_id does not match"},
		{"{" + gt + "," + id + `,"client_secret":"nope"}`, "invalid_grant", "client_secret does not match"},
	}
	for _, c := range cases {
		f.wantErr(f.post("/imrelay/demo/token", "", c.body), 400, c.err, c.desc)
	}
	r := f.post("/imrelay/demo/token", "", `{"grant_type":`)
	if r.status != 400 || r.m["error"] != "json_parse" || r.m["exception"] != excJSONParse {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	r = f.post("/imrelay/demo/token", "", `[1]`)
	if d, _ := r.m["error_description"].(string); r.status != 400 || r.m["error"] != "json_parse" ||
		!strings.HasPrefix(d, "Unexpected character in request body: ") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	f.wantErr(f.post("/hx/hxdeo2/token", "", "{}"), 404, "organization_application_not_found",
		"Could not find application for hx/hxdeo2 from URI: hx/hxdeo2/token")
	f.wantErr(f.call("GET", "/imrelay/demo/token", nil, ""), 405, "unsupported_service_operation", "Service operation not supported")
	f.wantErr(f.call("POST", "/imrelay/demo/token", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "{}"),
		415, "web_application", "Unsupported Media Type")
	f.wantErr(f.call("POST", "/imrelay/demo/token", map[string]string{"Content-Type": "application/xml"}, "{}"),
		415, "web_application", "Unsupported Media Type")
	// No Content-Type, or curl's default form type, is tolerated.
	for _, hdr := range []map[string]string{nil, {"Content-Type": "application/x-www-form-urlencoded"}} {
		r = f.call("POST", "/imrelay/demo/token", hdr, "{"+gt+","+id+","+sec+"}")
		if r.status != 200 {
			t.Fatalf("%v: %d %s", hdr, r.status, r.raw)
		}
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	const path = "/imrelay/demo/messages/users"
	const body = `{"to":["u1"],"type":"txt","body":{"msg":"hi"}}`
	send := func(auth string) reply {
		hdr := map[string]string{"Content-Type": "application/json"}
		if auth != "" {
			hdr["Authorization"] = auth
		}
		return f.call("POST", path, hdr, body)
	}
	expired := "Unable to authenticate due to expired access token"
	corrupt := "Unable to authenticate due to corrupt access token"
	f.wantErr(send(""), 401, "unauthorized", expired)
	f.wantErr(send("Bearer"), 401, "unauthorized", expired)
	f.wantErr(send("Basic dXNlcjpwYXNz"), 401, "auth_bad_access_token", corrupt)
	f.wantErr(send("Bearer not-a-token"), 401, "auth_bad_access_token", corrupt)
	f.wantErr(send("Bearer YWMt"+strings.Repeat("A", 63)+"*"), 401, "auth_bad_access_token", corrupt)
	f.wantErr(send("Bearer YWMt"+strings.Repeat("A", 64)), 401, "auth_bad_access_token", "Unable to authenticate")

	// Expiry by the clock.
	r := f.post("/imrelay/demo/token", "", `{"grant_type":"client_credentials","client_id":"`+DemoClientID+
		`","client_secret":"`+DemoClientSecret+`","ttl":60}`)
	tok := r.m["access_token"].(string)
	if r := send("Bearer " + tok); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.raw)
	}
	f.clk.Advance(59 * time.Second)
	if r := send("Bearer " + tok); r.status != 200 {
		t.Fatalf("59s old token: %d %s", r.status, r.raw)
	}
	f.clk.Advance(time.Second)
	f.wantErr(send("Bearer "+tok), 401, "unauthorized", expired)

	// ttl 0 never expires.
	forever := f.e.IssueToken(0)
	f.clk.Advance(10 * 365 * 24 * time.Hour)
	if r := send("Bearer " + forever); r.status != 200 {
		t.Fatalf("ttl 0 token: %d %s", r.status, r.raw)
	}

	// Forced expiry: the next two calls, whatever their token.
	if err := f.e.Core().Faults.Set(emu.Faults{ExpireTokens: 2}); err != nil {
		t.Fatal(err)
	}
	f.wantErr(send("Bearer "+forever), 401, "unauthorized", expired)
	f.wantErr(send("Bearer "+forever), 401, "unauthorized", expired)
	if r := send("Bearer " + forever); r.status != 200 {
		t.Fatalf("after forced expiries: %d %s", r.status, r.raw)
	}
	// The token endpoint is not authenticated: forced expiry leaves it alone.
	_ = f.e.Core().Faults.Set(emu.Faults{ExpireTokens: 1})
	f.token()
	if f.e.Core().Faults.Get().ExpireTokens != 1 {
		t.Fatal("token endpoint consumed a forced expiry")
	}
}

func TestSendUsersSuccess(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	body := `{"from":"alice","to":["bob","carol","bob"],"type":"txt","body":{"msg":"hello"},"ext":{"em_ignore_notification":true},"sync_device":true}`
	r := f.post("/imrelay/demo/messages/users?useMsgId=true", tok, body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	want := map[string]any{
		"path": "/messages/users", "uri": "http://a1.sandbox/imrelay/demo/messages/users",
		"timestamp": float64(t0.UnixMilli()), "organization": "imrelay", "application": DemoApplication,
		"action": "post", "duration": float64(0), "applicationName": "demo",
	}
	for k, v := range want {
		if r.m[k] != v {
			t.Errorf("%s = %v, want %v", k, r.m[k], v)
		}
	}
	if len(r.m) != len(want)+1 {
		t.Errorf("extra fields: %s", r.raw)
	}
	keys := []string{`"path"`, `"uri"`, `"timestamp"`, `"organization"`, `"application"`, `"action"`, `"data"`, `"duration"`, `"applicationName"`}
	last := -1
	for _, k := range keys {
		i := strings.Index(r.raw, k)
		if i < last {
			t.Errorf("field order: %s", r.raw)
		}
		last = i
	}
	data := r.m["data"].(map[string]any)
	if len(data) != 2 || data["bob"] == data["carol"] {
		t.Fatalf("data %v", data)
	}
	for _, v := range data {
		if n, err := strconv.ParseInt(v.(string), 10, 64); err != nil || n <= 0 {
			t.Fatalf("id %v is not a decimal int64", v)
		}
	}
	msgs := f.e.Core().Inbox.List(emu.Filter{To: "bob"})
	if len(msgs) != 1 {
		t.Fatalf("inbox %+v", msgs)
	}
	m := msgs[0]
	if m.Vendor != "easemob" || m.From != "alice" || m.Type != "txt" || m.Target != "users" ||
		m.Path != "/imrelay/demo/messages/users" || m.ID != data["bob"] || string(m.Body) != body {
		t.Fatalf("inbox entry %+v", m)
	}
	if f.e.Core().Inbox.Len() != 2 {
		t.Fatalf("inbox len %d", f.e.Core().Inbox.Len())
	}
	// from omitted: admin.
	f.post("/imrelay/demo/messages/chatgroups", tok, `{"to":["g1"],"type":"cmd","body":{"action":"ping"}}`)
	if m := f.e.Core().Inbox.List(emu.Filter{To: "g1"}); len(m) != 1 || m[0].From != "admin" || m[0].Target != "chatgroups" {
		t.Fatalf("%+v", m)
	}
}

func TestSendValidation(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	list := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf(`"u%d"`, i)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	exts := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf(`"k%d":"v"`, i)
		}
		return "{" + strings.Join(s, ",") + "}"
	}
	const txt = `"type":"txt","body":{"msg":"x"}`
	cases := []struct {
		path, body string
		status     int
		err, desc  string
	}{
		{"users", `not json`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"users", `[]`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"users", `{"from":"","to":["a"],` + txt + `}`, 400, "message_send_error", "param from can't be empty"},
		{"users", `{"from":7,"to":["a"],` + txt + `}`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"users", `{` + txt + `}`, 400, "message_send_error", "param to can't be empty"},
		{"users", `{"to":[],` + txt + `}`, 400, "message_send_error", "param to can't be empty"},
		{"users", `{"to":"a",` + txt + `}`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"users", `{"to":["a"],"body":{"msg":"x"}}`, 400, "message_send_error", "param type can't be empty"},
		{"users", `{"to":["a"],"type":"","body":{"msg":"x"}}`, 400, "message_send_error", "param type can't be empty"},
		{"users", `{"to":["a"],"type":"txt"}`, 400, "message_send_error", "param body can't be empty"},
		{"users", `{"to":["a"],"type":"txt","body":{}}`, 400, "message_send_error", "param body can't be empty"},
		{"users", `{"to":["a"],"type":"txt","body":"x"}`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"users", `{"to":["a"],` + txt + `,"ext":null}`, 400, "message_send_error", "param ext must be JSONObject"},
		{"users", `{"to":["a"],` + txt + `,"ext":"x"}`, 400, "message_send_error", "param ext must be JSONObject"},
		{"users", `{"to":` + list(601) + `,` + txt + `}`, 400, "message_send_error", "params to's size can't exceed limit 600"},
		{"chatgroups", `{"to":` + list(4) + `,` + txt + `}`, 400, "message_send_error", "params to's size can't exceed limit 3"},
		{"chatrooms", `{"to":` + list(11) + `,` + txt + `}`, 400, "message_send_error", "params to's size can't exceed limit 10"},
		{"users", `{"to":["a"],"type":"txt","body":{"text":"x"}}`, 400, "message_send_error", "param body.msg can't be empty"},
		{"users", `{"to":["a"],"type":"img","body":{"filename":"a.jpg"}}`, 400, "message_send_error", "param body.url can't be empty"},
		{"users", `{"to":["a"],"type":"audio","body":{"url":""}}`, 400, "message_send_error", "param body.url can't be empty"},
		{"users", `{"to":["a"],"type":"video","body":{"thumb":"t"}}`, 400, "message_send_error", "param body.url can't be empty"},
		{"users", `{"to":["a"],"type":"file","body":{"secret":"s"}}`, 400, "message_send_error", "param body.url can't be empty"},
		{"users", `{"to":["a"],"type":"loc","body":{"lng":"1","addr":"x"}}`, 400, "message_send_error", "param body.lat can't be empty"},
		{"users", `{"to":["a"],"type":"loc","body":{"lat":"1","lng":"2"}}`, 400, "message_send_error", "param body.addr can't be empty"},
		{"users", `{"to":["a"],"type":"cmd","body":{"act":"x"}}`, 400, "message_send_error", "param body.action can't be empty"},
		{"users", `{"to":["a"],"type":"custom","body":{"customEvent":"bad event!"}}`, 400, "message_send_error", "param body.customEvent must match [a-zA-Z0-9-_/\\.]{1,32}"},
		{"users", `{"to":["a"],"type":"custom","body":{"customExts":{"k":1}}}`, 400, "message_send_error", "param body.customExts must be Map<String,String>"},
		{"users", `{"to":["a"],"type":"custom","body":{"customExts":` + exts(17) + `}}`, 400, "message_send_error", "param body.customExts can't exceed 16 entries"},
		{"users", `{"to":["a"],"type":"sticker","body":{"x":1}}`, 400, "message_send_error", "param type is invalid"},
		{"users", `{"to":["a"],` + txt + `,"sync_device":"yes"}`, 400, "invalid_request_body", "Request body is invalid. Please check body is correct."},
		{"chatrooms", `{"to":["a"],` + txt + `,"chatroom_msg_level":"urgent"}`, 400, "message_send_error", "param chatroom_msg_level must be high, normal or low"},
		{"users", `{"to":["a"],"type":"txt","body":{"msg":"` + strings.Repeat("x", 5000) + `"},"ext":{"k":"` + strings.Repeat("y", 200) + `"}}`, 400, "message_send_error", "message is too large"},
		{"chatgroups/users", `{"to":["g"],` + txt + `}`, 400, "message_send_error", "param users can't be empty"},
		{"chatgroups/users", `{"to":["g"],` + txt + `,"users":` + list(21) + `}`, 400, "message_send_error", "params users's size can't exceed limit 20"},
	}
	for _, c := range cases {
		r := f.post("/imrelay/demo/messages/"+c.path, tok, c.body)
		if r.status != c.status || r.m["error"] != c.err || r.m["error_description"] != c.desc {
			t.Errorf("%s %.80s:\n got %d %s\nwant %d %s %q", c.path, c.body, r.status, r.raw, c.status, c.err, c.desc)
		}
	}
	r := f.post("/imrelay/demo/messages/users", tok, `{"to":["a"],"type":"txt","body":{"msg":"`+strings.Repeat("x", 6000)+`"}}`)
	if r.m["error_code"] != float64(14007) || r.m["exception"] != "MessageSendException" {
		t.Errorf("too large: %s", r.raw)
	}
	if n := f.e.Core().Inbox.Len(); n != 0 {
		t.Fatalf("refused messages reached the inbox: %d", n)
	}
	// Every type with its required fields passes; loc tolerates numbers.
	ok := []string{
		`"type":"txt","body":{"msg":""}`,
		`"type":"img","body":{"url":"http://x/1","filename":"a.jpg","secret":"s","size":{"width":1,"height":2}}`,
		`"type":"audio","body":{"url":"http://x/2","length":3}`,
		`"type":"video","body":{"url":"http://x/3","thumb":"http://x/4","length":0,"file_length":9}`,
		`"type":"file","body":{"url":"http://x/5"}`,
		`"type":"loc","body":{"lat":"39.9","lng":"116.3","addr":"here"}`,
		`"type":"loc","body":{"lat":39.9,"lng":116.3,"addr":"here"}`,
		`"type":"cmd","body":{"action":"a1"}`,
		`"type":"custom","body":{"customEvent":"ev-1/a.b_c","customExts":` + exts(16) + `}`,
		`"type":"custom","body":{"x":1}`,
	}
	for _, b := range ok {
		if r := f.post("/imrelay/demo/messages/users", tok, `{"to":["a"],`+b+`}`); r.status != 200 {
			t.Errorf("%s: %d %s", b, r.status, r.raw)
		}
	}
	if r := f.post("/imrelay/demo/messages/users", tok, `{"to":`+list(600)+`,`+txt+`}`); r.status != 200 || len(r.m["data"].(map[string]any)) != 600 {
		t.Errorf("600 users: %d", r.status)
	}
	if r := f.post("/imrelay/demo/messages/chatgroups/users", tok, `{"to":["g"],`+txt+`,"users":`+list(20)+`}`); r.status != 200 || r.m["path"] != "/messages/chatgroups/users" {
		t.Errorf("directed: %d %s", r.status, r.raw)
	}
}

func TestLegacy(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	body := `{"target_type":"users","target":["user2","user3"],"msg":{"type":"txt","msg":"testmessage"},"from":"user1"}`
	r := f.post("/imrelay/demo/messages", tok, body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	data := r.m["data"].(map[string]any)
	if data["user2"] != "success" || data["user3"] != "success" || len(data) != 2 {
		t.Fatalf("data %v", data)
	}
	if ents, ok := r.m["entities"].([]any); !ok || len(ents) != 0 || r.m["path"] != "/messages" || r.m["action"] != "post" ||
		r.m["uri"] != "http://a1.sandbox/imrelay/demo/messages" || r.m["organization"] != "imrelay" || r.m["applicationName"] != "demo" ||
		r.m["application"] != DemoApplication || r.m["timestamp"] != float64(t0.UnixMilli()) || r.m["duration"] != float64(0) {
		t.Fatalf("envelope %s", r.raw)
	}
	if m := f.e.Core().Inbox.List(emu.Filter{To: "user3"}); len(m) != 1 || m[0].ID == "" || m[0].Target != "users" || m[0].Type != "txt" || m[0].From != "user1" {
		t.Fatalf("inbox %+v", m)
	}

	r = f.post("/imrelay/demo/messages?useMsgId=true", tok, `{"target_type":"chatgroups","target":["g1"],"msg":{"type":"img","url":"http://x/1","filename":"a.jpg"}}`)
	id, _ := r.m["data"].(map[string]any)["g1"].(string)
	if _, err := strconv.ParseInt(id, 10, 64); r.status != 200 || err != nil {
		t.Fatalf("useMsgId: %d %s", r.status, r.raw)
	}
	if m := f.e.Core().Inbox.List(emu.Filter{To: "g1"}); len(m) != 1 || m[0].ID != id || m[0].From != "admin" {
		t.Fatalf("inbox %+v", m)
	}

	cases := []struct{ body, err, desc string }{
		{`{"target_type":"user","target":["a"],"msg":{"type":"txt","msg":"x"}}`, "illegal_argument", "target_type can only be 'users' or 'chatgroups' or 'chatrooms'"},
		{`{"target":["a"],"msg":{"type":"txt","msg":"x"}}`, "illegal_argument", "target_type can only be 'users' or 'chatgroups' or 'chatrooms'"},
		{`{"target_type":"users","target":[],"msg":{"type":"txt","msg":"x"}}`, "illegal_argument", "target can't be empty"},
		{`{"target_type":"users","target":"a","msg":{"type":"txt","msg":"x"}}`, "illegal_argument", "target can't be empty"},
		{`{"target_type":"users","target":["a"],"msg":{"type":"txt","msg":"x"},"from":""}`, "illegal_argument", "from can't be empty"},
		{`{"target_type":"users","target":["a"]}`, "illegal_argument", "msg can't be empty"},
		{`{"target_type":"users","target":["a"],"msg":{"msg":"x"}}`, "illegal_argument", "msg type can't be empty"},
		{`{"target_type":"users","target":["a"],"msg":{"type":"img"}}`, "illegal_argument", "param body.url can't be empty"},
		{`{"target_type":"users","target":["a"],"msg":{"type":"txt","msg":"x"},"ext":[]}`, "illegal_argument", "ext must be JSONObject"},
	}
	for _, c := range cases {
		f.wantErr(f.post("/imrelay/demo/messages", tok, c.body), 400, c.err, c.desc)
	}
	r = f.post("/imrelay/demo/messages", tok, `{"target_type":`)
	if r.status != 400 || r.m["error"] != "json_parse" || r.m["exception"] != "org.codehaus.jackson.JsonParseException" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	for _, p := range []string{"/", "/imrelay", "/imrelay/demo/users", "/imrelay/demo/messages/people", "/imrelay/demo/chatgroups"} {
		f.wantErr(f.post(p, tok, "{}"), 404, "service_resource_not_found", "Service resource not found")
	}
	f.wantErr(f.post("/other/demo/messages/users", tok, "{}"), 404, "organization_application_not_found",
		"Could not find application for other/demo from URI: other/demo/messages/users")
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	const path = "/imrelay/demo/messages/users"
	faults := f.e.Core().Faults

	_ = faults.Set(emu.Faults{RateLimit: 1})
	if r := f.post(path, tok, `{"to":["a"],"type":"txt","body":{"msg":"x"}}`); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	f.wantErr(f.post(path, tok, `{"to":["a"],"type":"txt","body":{"msg":"x"}}`), 429, "reach_limit", "This request has reached api limit")

	_ = faults.Set(emu.Faults{MessageRate: 5})
	if r := f.post(path, tok, `{"to":["a","b","c"],"type":"txt","body":{"msg":"x"}}`); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	f.wantErr(f.post(path, tok, `{"to":["a","b","c"],"type":"txt","body":{"msg":"x"}}`), 403, "message_send_error", "message send reach limit")
	f.clk.Advance(time.Second)
	if r := f.post(path, tok, `{"to":["a","b","c"],"type":"txt","body":{"msg":"x"}}`); r.status != 200 {
		t.Fatalf("after refill %d %s", r.status, r.raw)
	}

	_ = faults.Set(emu.Faults{ErrorRate: 1})
	f.wantErr(f.post(path, tok, `{"to":["a"],"type":"txt","body":{"msg":"x"}}`), 500, "internal_server_error", "Internal Server Error")

	_ = faults.Set(emu.Faults{Latency: emu.Duration(40 * time.Millisecond)})
	f.post(path, tok, `{"to":["a"],"type":"txt","body":{"msg":"x"}}`)
	if len(f.slept) != 1 || f.slept[0] != 40*time.Millisecond {
		t.Fatalf("slept %v", f.slept)
	}

	_ = faults.Set(emu.Faults{DropRate: 1})
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://a1.sandbox" + path)
	if err := f.cli.Do(req, resp); err == nil {
		t.Fatalf("dropped call answered %d", resp.StatusCode())
	}
	faults.Reset()
	// The admin surface works whatever the faults.
	_ = faults.Set(emu.Faults{DropRate: 1, ErrorRate: 1})
	if r := f.call("GET", "/_sandbox/info", nil, ""); r.status != 200 || r.m["client_id"] != DemoClientID || r.m["app_key"] != "imrelay#demo" {
		t.Fatalf("info %d %s", r.status, r.raw)
	}
}

func TestNewRejectsBadNames(t *testing.T) {
	if _, err := New(Config{Org: "a/b"}); err == nil || !strings.HasPrefix(err.Error(), "easemob: bad config") {
		t.Fatal(err)
	}
}

func TestTokenStoreForgetsOldest(t *testing.T) {
	e, err := New(Config{MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := e.IssueToken(0), e.IssueToken(0), e.IssueToken(0)
	if _, ok := e.check([]byte("Bearer " + a)); ok {
		t.Fatal("oldest token still known")
	}
	for _, tok := range []string{b, c} {
		if _, ok := e.check([]byte("Bearer " + tok)); !ok {
			t.Fatal("recent token forgotten")
		}
	}
}
