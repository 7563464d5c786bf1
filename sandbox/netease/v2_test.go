package netease

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const v2Text = `{"message":{"message_type":0,"text":"hello"}}`

func TestSendV2Success(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"message":{"message_type":1,"sub_type":7,"text":"a picture","message_client_id":"c-1",
		"attachment":{"name":"a.jpg","md5":"x","url":"http://img/a.jpg","ext":"jpg","width":83,"height":56,"size":18}},
		"message_config":{"unread_enabled":false},"push_config":{"push_content":"picture"}}`
	a := h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", body)
	a.wantCode(t, v2, CodeOK, "")
	wantKeys(t, a.json, "code", "msg", "data")
	if a.json.Get("msg").Str != "success" {
		t.Fatalf("msg %q", a.json.Get("msg").Str)
	}
	d := a.json.Get("data")
	wantKeys(t, d, "message_server_id", "message_client_id", "sender_id", "conversation_type",
		"receiver_id", "create_time", "message_type", "sub_type", "text", "attachment")
	if d.Get("message_server_id").Int() <= 0 || d.Get("message_client_id").Str != "c-1" ||
		d.Get("sender_id").Str != "alice" || d.Get("receiver_id").Str != "bob" ||
		d.Get("conversation_type").Int() != 1 || d.Get("create_time").Int() != t0.UnixMilli() ||
		d.Get("message_type").Int() != 1 || d.Get("sub_type").Int() != 7 || d.Get("text").Str != "a picture" ||
		d.Get("attachment.width").Int() != 83 || d.Get("attachment.url").Str != "http://img/a.jpg" {
		t.Fatalf("data %s", d.Raw)
	}
	in := h.inbox()
	if len(in) != 1 {
		t.Fatalf("inbox %+v", in)
	}
	m := in[0]
	if m.From != "alice" || m.To[0] != "bob" || m.Target != "p2p" || m.Type != "1" ||
		m.ID != d.Get("message_server_id").Raw || gjson.GetBytes(m.Body, "message.attachment.md5").Str != "x" {
		t.Fatalf("inbox message %+v", m)
	}
}

// A text message without sub_type, attachment or client id: the answer
// carries a generated message_client_id and leaves the others out.
func TestSendV2Minimal(t *testing.T) {
	h := newHarness(t, nil)
	a := h.v2("/im/v2/conversations/alice%7C1%7Cbob/messages", v2Text)
	a.wantCode(t, v2, CodeOK, "")
	d := a.json.Get("data")
	wantKeys(t, d, "message_server_id", "message_client_id", "sender_id", "conversation_type",
		"receiver_id", "create_time", "message_type", "text")
	if d.Get("message_client_id").Str == "" {
		t.Fatal("no message_client_id generated")
	}
}

// The conversation id arrives raw, %7C-escaped (Go's HTTP client), in
// lowercase escapes, and behind /nimserver (the official Go SDK's base).
func TestSendV2Paths(t *testing.T) {
	h := newHarness(t, nil)
	for i, p := range []string{
		"/im/v2/conversations/alice|2|team1/messages",
		"/im/v2/conversations/alice%7C2%7Cteam1/messages",
		"/im/v2/conversations/alice%7c2%7cteam1/messages",
		"/nimserver/im/v2/conversations/alice%7C2%7Cteam1/messages",
		"/nimserver/im/v2/conversations/alice|2|team1/messages",
	} {
		a := h.do(call{uri: p, body: v2Text, contentType: "-"}) // and no Content-Type
		a.wantCode(t, v2, CodeOK, "")
		if d := a.json.Get("data"); d.Get("sender_id").Str != "alice" || d.Get("receiver_id").Str != "team1" || d.Get("conversation_type").Int() != 2 {
			t.Fatalf("%s: data %s", p, d.Raw)
		}
		if m := h.inbox()[i]; m.Target != "team" || m.To[0] != "team1" {
			t.Fatalf("%s: inbox %+v", p, m)
		}
	}
	h.v2("/im/v2/conversations/alice%7C3%7Csuper1/messages", v2Text).wantCode(t, v2, CodeOK, "")
	if m := h.inbox()[5]; m.Target != "superteam" {
		t.Fatalf("super team: %+v", m)
	}
}

func TestSendV2Validation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	msg := func(m string) string { return `{"message":` + m + `}` }
	cases := []struct {
		name, conv, body string
		ok               bool
		desc             string
	}{
		{"two parts", "alice%7C1", v2Text, false, "conversation_id: want sender_id|conversation_type|receiver_id"},
		{"four parts", "a%7C1%7Cb%7Cc", v2Text, false, "conversation_id: want"},
		{"type 4", "alice%7C4%7Cbob", v2Text, false, "conversation_type must be 1, 2 or 3"},
		{"type p2p", "alice%7Cp2p%7Cbob", v2Text, false, "conversation_type must be 1, 2 or 3"},
		{"empty sender", "%7C1%7Cbob", v2Text, false, "sender_id: required"},
		{"empty receiver", "alice%7C1%7C", v2Text, false, "receiver_id: required"},
		{"long sender", long(33) + "%7C1%7Cbob", v2Text, false, "sender_id: longer than 32"},
		{"bad escape", "alice%ZZ1%7Cbob", v2Text, false, "conversation_id"},
		{"empty body", "", "", false, "body: required"},
		{"body not JSON", "", "message=hi", false, "body: not JSON"},
		{"body an array", "", "[]", false, "body: not a JSON object"},
		{"no message", "", `{"text":"hi"}`, false, "message: required"},
		{"message a string", "", msg(`"hi"`), false, "message: must be an object"},
		{"no message_type", "", msg(`{"text":"hi"}`), false, "message.message_type: required"},
		{"message_type 5", "", msg(`{"message_type":5,"text":"hi"}`), false, "message.message_type: must be one of"},
		{"message_type a string", "", msg(`{"message_type":"0","text":"hi"}`), false, "message.message_type: must be one of"},
		{"message_type 0.5", "", msg(`{"message_type":0.5,"text":"hi"}`), false, "message.message_type: must be one of"},
		{"text missing", "", msg(`{"message_type":0}`), false, "message.text: required"},
		{"text a number", "", msg(`{"message_type":0,"text":1}`), false, "message.text: must be a string"},
		{"text of 5001", "", msg(`{"message_type":0,"text":"` + long(5001) + `"}`), false, "message.text: 5001 characters"},
		{"text of 5000", "", msg(`{"message_type":0,"text":"` + long(5000) + `"}`), true, ""},
		{"tip", "", msg(`{"message_type":10,"text":"joined"}`), true, ""},
		{"sub_type negative", "", msg(`{"message_type":0,"text":"x","sub_type":-1}`), false, "message.sub_type"},
		{"client id a number", "", msg(`{"message_type":0,"text":"x","message_client_id":1}`), false, "message.message_client_id"},
		{"image without attachment", "", msg(`{"message_type":1}`), false, "message.attachment: required"},
		{"image attachment a string", "", msg(`{"message_type":1,"attachment":"x"}`), false, "message.attachment: must be an object"},
		{"image without url", "", msg(`{"message_type":1,"attachment":{"width":1}}`), false, "message.attachment.url: required"},
		{"image with string width", "", msg(`{"message_type":1,"attachment":{"url":"u","width":"1"}}`), false, "message.attachment.width: must be a number"},
		{"image description of 501", "", msg(`{"message_type":1,"text":"` + long(501) + `","attachment":{"url":"u"}}`), false, "message.text: 501"},
		{"audio", "", msg(`{"message_type":2,"attachment":{"url":"u","dur":1000}}`), true, ""},
		{"audio with string duration", "", msg(`{"message_type":2,"attachment":{"url":"u","duration":"1"}}`), false, "duration: must be a number"},
		{"video", "", msg(`{"message_type":3,"attachment":{"url":"u","width":1,"height":2,"duration":3}}`), true, ""},
		{"location lat/lng", "", msg(`{"message_type":4,"attachment":{"title":"t","lat":30.1,"lng":120.2}}`), true, ""},
		{"location latitude/longitude", "", msg(`{"message_type":4,"attachment":{"latitude":30.1,"longitude":120.2}}`), true, ""},
		{"location without lng", "", msg(`{"message_type":4,"attachment":{"lat":30.1}}`), false, "message.attachment.lng: required"},
		{"location out of range", "", msg(`{"message_type":4,"attachment":{"latitude":95,"longitude":0}}`), false, "latitude: out of range"},
		{"file", "", msg(`{"message_type":6,"attachment":{"url":"u","name":"a.pdf","size":1}}`), true, ""},
		{"file without url", "", msg(`{"message_type":6,"attachment":{"name":"a.pdf"}}`), false, "url: required"},
		{"custom object", "", msg(`{"message_type":100,"sub_type":3,"attachment":{"k":"v"}}`), true, ""},
		{"custom string", "", msg(`{"message_type":100,"attachment":"{\"k\":1}"}`), true, ""},
		{"custom without attachment", "", msg(`{"message_type":100}`), false, "message.attachment: required for custom"},
		{"custom attachment a number", "", msg(`{"message_type":100,"attachment":1}`), false, "must be an object or a string"},
		{"push_content of 501", "", `{"message":{"message_type":0,"text":"x"},"push_config":{"push_content":"` + long(501) + `"}}`, false, "push_config.push_content: 501"},
		{"push_payload of 2049", "", `{"message":{"message_type":0,"text":"x"},"push_config":{"push_payload":"` + long(2049) + `"}}`, false, "push_config.push_payload: 2049"},
		{"push_config a string", "", `{"message":{"message_type":0,"text":"x"},"push_config":"x"}`, false, "push_config: must be an object"},
		{"seed example", "", seedExample, true, ""},
	}
	h := newHarness(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conv := c.conv
			if conv == "" {
				conv = "alice%7C1%7Cbob"
			}
			before := len(h.inbox())
			a := h.v2("/im/v2/conversations/"+conv+"/messages", c.body)
			if c.ok {
				a.wantCode(t, v2, CodeOK, "")
				if len(h.inbox()) != before+1 {
					t.Fatal("accepted message not in the inbox")
				}
				return
			}
			a.wantCode(t, v2, CodeParam, c.desc)
			if len(h.inbox()) != before {
				t.Fatal("refused message in the inbox")
			}
		})
	}
}

// seedExample is the request body of the vendor's own documentation page.
const seedExample = `{"sender_no_sense":false,"receiver_no_sense":false,"extension":"dolore dolor sint qui voluptate",
"message":{"message_type":0,"sub_type":26357002,"text":"Lorem laboris cillum ut exercitation",
"attachment":{"name":"器年众际根开以","md5":"esse Excepteur do","url":"http://zpcuedkr.nc/yjy","ext":"Excepteur consequat","width":83,"height":56,"size":18}},
"message_config":{"unread_enabled":false,"mutil_sync_enabled":true,"offline_enabled":true,"history_enabled":false,"roaming_enabled":true,"conversation_update_enabled":true},
"route_config":{"route_enabled":true,"route_environment":"Lorem anim quis"},
"push_config":{"push_enabled":true,"push_nick_enabled":false,"push_content":"id do in velit","push_payload":null,"push_forcepush_all":true,"push_forcepush_ids":["22"],"push_forcepush_content":"nostrud veniam dolore esse"},
"antispam_config":{"antispam_enabled":false,"antispam_business_id":"44","antispam_extension":null,"antispam_custom_message_enabled":true,"antispam_custom_message":"laborum non irure et","antispam_cheating":"{\"email\":\"123@126.com\"}"},
"p2p_option":{"check_friend":true},"team_option":{"mark_as_read":true,"ignore_chat_banned":false},"superteam_option":{"ignore_chat_banned":false},
"robot_config":{"robot_account_id":null,"robot_topic":"http://dummyimage.com/400x400","robot_function":"ex nisi pariatur qui do","robot_custom_content":"quis Lorem"}}`

func TestSendV2Unregistered(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Unregistered = []string{"ghost"} })
	h.v2("/im/v2/conversations/alice%7C1%7Cghost/messages", v2Text).wantCode(t, v2, CodeNotFound, "receiver_id: account not registered")
	h.v2("/im/v2/conversations/ghost%7C1%7Cbob/messages", v2Text).wantCode(t, v2, CodeNotFound, "sender_id: account not registered")
	h.v2("/im/v2/conversations/alice%7C2%7Cghost/messages", v2Text).wantCode(t, v2, CodeOK, "")
}

func batchV2(sender string, receivers []string, message string) string {
	r, _ := json.Marshal(receivers)
	return fmt.Sprintf(`{"sender_id":%q,"receiver_ids":%s,"message":%s,"need_message_detail":true}`, sender, r, message)
}

func TestBatchSendV2(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Unregistered = []string{"ghost"} })
	a := h.v2("/im/v2/conversations/messages", batchV2("alice", []string{"bob", "ghost", "carol", "bob"}, `{"message_type":0,"text":"hi all"}`))
	a.wantCode(t, v2, CodeOK, "")
	wantKeys(t, a.json, "code", "msg", "data")
	wantKeys(t, a.json.Get("data"), "success_list", "failed_list")
	ok := a.json.Get("data.success_list").Array()
	if len(ok) != 2 || ok[0].Get("receiver_id").Str != "bob" || ok[1].Get("receiver_id").Str != "carol" {
		t.Fatalf("success_list %s", a.json.Get("data.success_list").Raw)
	}
	for _, s := range ok {
		wantKeys(t, s, "message_server_id", "message_client_id", "sender_id", "conversation_type",
			"receiver_id", "create_time", "message_type", "text")
		if s.Get("sender_id").Str != "alice" || s.Get("conversation_type").Int() != 1 || s.Get("text").Str != "hi all" {
			t.Fatalf("success entry %s", s.Raw)
		}
	}
	if ok[0].Get("message_server_id").Int() == ok[1].Get("message_server_id").Int() {
		t.Fatal("message_server_id repeated")
	}
	failed := a.json.Get("data.failed_list").Array()
	if len(failed) != 1 {
		t.Fatalf("failed_list %s", a.json.Get("data.failed_list").Raw)
	}
	wantKeys(t, failed[0], "receiver_id", "error_code", "error_msg")
	if failed[0].Get("receiver_id").Str != "ghost" || failed[0].Get("error_code").Int() != CodeNotFound {
		t.Fatalf("failed entry %s", failed[0].Raw)
	}
	in := h.inbox()
	if len(in) != 2 || in[0].To[0] != "bob" || in[1].To[0] != "carol" || in[0].ID != ok[0].Get("message_server_id").Raw {
		t.Fatalf("inbox %+v", in)
	}
	// Behind /nimserver too.
	h.v2("/nimserver/im/v2/conversations/messages", batchV2("alice", []string{"bob"}, `{"message_type":0,"text":"x"}`)).wantCode(t, v2, CodeOK, "")
}

func TestBatchSendV2Validation(t *testing.T) {
	text := `{"message_type":0,"text":"x"}`
	many := func(n int) []string { return accids(n) }
	cases := []struct {
		name, body string
		ok         bool
		desc       string
	}{
		{"500 receivers", batchV2("alice", many(500), text), true, ""},
		{"501 receivers", batchV2("alice", many(501), text), false, "receiver_ids: 501 receivers, at most 500"},
		{"no receivers", batchV2("alice", []string{}, text), false, "receiver_ids: empty"},
		{"receivers missing", `{"sender_id":"alice","message":` + text + `}`, false, "receiver_ids: required"},
		{"receivers a string", `{"sender_id":"alice","receiver_ids":"bob","message":` + text + `}`, false, "receiver_ids: must be an array"},
		{"receiver a number", `{"sender_id":"alice","receiver_ids":[1],"message":` + text + `}`, false, "every element must be a string"},
		{"receiver too long", batchV2("alice", []string{strings.Repeat("b", 33)}, text), false, "longer than 32"},
		{"sender missing", `{"receiver_ids":["bob"],"message":` + text + `}`, false, "sender_id: required"},
		{"sender a number", `{"sender_id":1,"receiver_ids":["bob"],"message":` + text + `}`, false, "sender_id: must be a string"},
		{"message missing", `{"sender_id":"alice","receiver_ids":["bob"]}`, false, "message: required"},
		{"bad message", batchV2("alice", []string{"bob"}, `{"message_type":1}`), false, "message.attachment: required"},
		{"not JSON", "sender_id=alice", false, "body: not JSON"},
	}
	h := newHarness(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.v2("/im/v2/conversations/messages", c.body)
			if c.ok {
				a.wantCode(t, v2, CodeOK, "")
				return
			}
			a.wantCode(t, v2, CodeParam, c.desc)
		})
	}
}

func TestBatchSendV2MaxReceiversSettable(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBatchReceivers = 2 })
	h.v2("/im/v2/conversations/messages", batchV2("alice", accids(3), `{"message_type":0,"text":"x"}`)).
		wantCode(t, v2, CodeParam, "at most 2")
}
