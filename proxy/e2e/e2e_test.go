package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// textRequest is a text message from alice to rcpt in a client dialect:
// the path and the client's JSON.
func textRequest(in, rcpt, text string) (string, string) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch in {
	case config.Getsender:
		return "/sender/v1/handleBusinessMessage", fmt.Sprintf(`{"messageType":1,"from":"alice","userId":%s,"isDisturb":false,"messageInfo":{"msg":%s}}`, q(rcpt), q(text))
	case config.Opapp:
		return "/opapp/send2EasemobMessage", fmt.Sprintf(`{"reqUrl":"/hxSend/send2EasemobMessage","messages":[{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":%s,"msgType":"txt","msg":%s,"targetType":"users"},"fileUrl":""}]}`, q(rcpt), q(text))
	case config.Netease:
		return "/im/v2/conversations/alice%7C1%7C" + rcpt + "/messages", fmt.Sprintf(`{"message":{"message_type":0,"text":%s}}`, q(text))
	case config.Easemob:
		return "/" + emOrg + "/" + emApp + "/messages/users", fmt.Sprintf(`{"from":"alice","to":[%s],"type":"txt","body":{"msg":%s}}`, q(rcpt), q(text))
	case config.Youdu:
		return "/cgi/msg/send", fmt.Sprintf(`{"toUser":%s,"msgType":"text","text":{"content":%s}}`, q(rcpt), q(text))
	}
	return "", ""
}

// accepted reports whether the relay's answer says, in the client's own
// dialect, that the message to rcpt was sent.
func accepted(in string, a answer, rcpt string) bool {
	switch in {
	case config.Getsender:
		// getMessageId is the provider's message id, empty when the
		// provider gives none (opapp, Youdu).
		return a.status == 200 && gjson.Get(a.body, "code").Int() == 200 && gjson.Get(a.body, "data.getMessageId").Exists()
	case config.Opapp:
		return a.status == 200 && gjson.Get(a.body, "code").Int() == 200
	case config.Netease:
		return a.status == 200 && gjson.Get(a.body, "code").Int() == 200
	case config.Easemob:
		// The codec lists only accepted recipients in data; the value is
		// the provider's message id, empty when the provider gives none.
		return a.status == 200 && gjson.Get(a.body, "data."+gjson.Escape(rcpt)).Exists()
	case config.Youdu:
		return a.status == 200 && gjson.Get(a.body, "errcode").Exists() && gjson.Get(a.body, "errcode").Int() == 0
	}
	return false
}

// refused reports whether the answer is the dialect's authentication error.
func refused(in string, a answer) bool {
	switch in {
	case config.Getsender, config.Opapp:
		return gjson.Get(a.body, "code").Int() == 401 && gjson.Get(a.body, "message").String() != "" && gjson.Get(a.body, "foot").Exists()
	case config.Netease:
		return gjson.Get(a.body, "code").Int() == 414
	case config.Easemob:
		return a.status == 401 && gjson.Get(a.body, "error").String() != "" && gjson.Get(a.body, "error_description").String() != ""
	case config.Youdu:
		c := gjson.Get(a.body, "errcode").Int()
		return a.status == 200 && c >= 100000 && c <= 100002
	}
	return false
}

// arrival says how a target vendor records a text message.
var arrival = map[string]struct {
	typ   string
	paths []string // where the text is in the accepted body
}{
	config.Easemob:   {"txt", []string{"body.msg", "msg.msg"}},
	config.Netease:   {"0", []string{"message.text", "body.msg"}},
	config.Youdu:     {"text", []string{"text.content"}},
	config.Getsender: {"1", []string{"messageInfo.msg"}},
	config.Opapp:     {"txt", []string{"msgBody.msg", "msg"}},
}

func textOf(target string, m emu.Message) string {
	for _, p := range arrival[target].paths {
		if v := gjson.GetBytes(m.Body, p); v.Type == gjson.String {
			return v.Str
		}
	}
	return ""
}

// wantFrom is the sender the target should record.
func wantFrom(in, target string) string {
	switch {
	case target == config.Youdu:
		return vYdApp // Youdu records the sending app, not a user
	case in == config.Youdu:
		return relaySender // Youdu clients name no sender: the route's default
	}
	return "alice"
}

// checkArrival checks the one message rcpt got, field by field.
func checkArrival(t *testing.T, e *env, in, target, rcpt, text string) {
	t.Helper()
	got := e.inbox(target, rcpt)
	if len(got) != 1 {
		t.Fatalf("%s inbox for %s has %d messages, want 1: %+v", target, rcpt, len(got), got)
	}
	m := got[0]
	if m.Vendor != target {
		t.Errorf("vendor = %q", m.Vendor)
	}
	if m.Type != arrival[target].typ {
		t.Errorf("type = %q, want %q", m.Type, arrival[target].typ)
	}
	if len(m.To) != 1 || m.To[0] != rcpt {
		t.Errorf("to = %v, want [%s]", m.To, rcpt)
	}
	if want := wantFrom(in, target); m.From != want {
		t.Errorf("from = %q, want %q", m.From, want)
	}
	if got := textOf(target, m); got != text {
		t.Errorf("text = %q, want %q (body %s)", got, text, m.Body)
	}
}

// TestTextEveryPair sends a text in every client dialect to every target.
func TestTextEveryPair(t *testing.T) {
	e := newEnv(t, nil)
	for _, in := range config.Dialects {
		for _, out := range config.Dialects {
			t.Run(in+"->"+out, func(t *testing.T) {
				if !codecAvailable(in) || !codecAvailable(out) {
					t.Fatalf("missing plugins/%s and plugins/%s: run make plugins", in, out)
				}
				rcpt := "u" + in[:3] + out[:3]
				text := "hello " + in + " to " + out + " ✓"
				path, body := textRequest(in, rcpt, text)
				a := e.send(in, out, good, path, body)
				if !accepted(in, a, rcpt) {
					t.Fatalf("answer %d %s", a.status, a.body)
				}
				checkArrival(t, e, in, out, rcpt, text)
			})
		}
	}
}

// TestWrongCredentials: every dialect refuses a client with the wrong
// credentials in its own error shape, and nothing is sent.
func TestWrongCredentials(t *testing.T) {
	e := newEnv(t, nil)
	target := e.dialect[0]
	for _, in := range config.Dialects {
		t.Run(in, func(t *testing.T) {
			if !codecAvailable(in) {
				t.Fatalf("missing plugins/%s: run make plugins", in)
			}
			rcpt := "intruder" + in[:3]
			path, body := textRequest(in, rcpt, "should not arrive")
			a := e.send(in, target, wrong, path, body)
			if !refused(in, a) {
				t.Fatalf("answer %d %s", a.status, a.body)
			}
			for _, v := range e.vendors {
				if n := len(v.core.Inbox.List(emu.Filter{To: rcpt})); n != 0 {
					t.Errorf("%s received %d messages from an unauthenticated client", v.name, n)
				}
			}
		})
	}
}

// TestTokenExpiryMidRun: the target vendor says the relay's token expired
// in the middle of a run; the relay fetches a new one and every message
// arrives exactly once.
func TestTokenExpiryMidRun(t *testing.T) {
	for _, target := range []string{config.Easemob, config.Youdu} {
		t.Run(target, func(t *testing.T) {
			e := newEnv(t, nil)
			in := e.dialect[0]
			if !codecAvailable(target) {
				t.Fatalf("missing plugins/%s: run make plugins", target)
			}
			before := e.relay.Broker(target).Stats()
			for i := 0; i < 6; i++ {
				if i == 3 {
					must(t, e.vendors[target].core.Faults.Set(emu.Faults{ExpireTokens: 1}))
				}
				rcpt := fmt.Sprintf("exp%d", i)
				path, body := textRequest(in, rcpt, "run "+rcpt)
				if a := e.send(in, target, good, path, body); !accepted(in, a, rcpt) {
					t.Fatalf("message %d: %d %s", i, a.status, a.body)
				}
				if n := len(e.inbox(target, rcpt)); n != 1 {
					t.Fatalf("message %d arrived %d times", i, n)
				}
			}
			s := e.relay.Broker(target).Stats()
			if s.Drops-before.Drops != 1 || s.Fetches-before.Fetches != 2 {
				t.Errorf("broker: %+v (before %+v), want one drop and two token calls", s, before)
			}
		})
	}
}

// TestPartialFanOutFailure: an opapp batch where one message cannot be
// delivered answers code 500 with that message in the failed list, and
// the others arrive.
func TestPartialFanOutFailure(t *testing.T) {
	if !codecAvailable(config.Opapp) || !codecAvailable(config.Netease) {
		t.Fatal("missing plugins/opapp and plugins/netease: run make plugins")
	}
	e := newEnv(t, nil)
	msgs := []string{}
	for _, to := range []string{"pf1", "ghost", "pf2"} {
		msgs = append(msgs, fmt.Sprintf(`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"%s","msgType":"txt","msg":"batch to %s","targetType":"users"},"fileUrl":""}`, to, to))
	}
	body := `{"reqUrl":"/hxSend/send2EasemobMessage","messages":[` + strings.Join(msgs, ",") + `]}`
	a := e.send(config.Opapp, config.Netease, good, "/opapp/send2EasemobMessage", body)
	if gjson.Get(a.body, "code").Int() != 500 {
		t.Fatalf("answer %s, want code 500", a.body)
	}
	failed := gjson.Get(a.body, "data")
	if n := failed.Get("#").Int(); n != 1 || failed.Get("0.msgBody.toUser").String() != "ghost" {
		t.Errorf("failed list = %s, want only the message to ghost", failed.Raw)
	}
	for _, to := range []string{"pf1", "pf2"} {
		if n := len(e.inbox(config.Netease, to)); n != 1 {
			t.Errorf("%s got %d messages", to, n)
		}
	}
	if n := len(e.inbox(config.Netease, "ghost")); n != 0 {
		t.Errorf("ghost got %d messages", n)
	}
}

// TestBatch: one client request with many messages and recipients.
func TestBatch(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		in, target, path, body string
		rcpts                  []string
	}{
		{config.Youdu, config.Easemob, "/cgi/msg/send", `{"toUser":"yb1|yb2|yb3","msgType":"text","text":{"content":"to three"}}`, []string{"yb1", "yb2", "yb3"}},
		{config.Easemob, config.Netease, "/" + emOrg + "/" + emApp + "/messages/users", `{"from":"alice","to":["eb1","eb2"],"type":"txt","body":{"msg":"to two"}}`, []string{"eb1", "eb2"}},
		{config.Opapp, config.Easemob, "/opapp/send2EasemobMessage", `{"reqUrl":"/x","messages":[` +
			`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"ob1","msgType":"txt","msg":"one","targetType":"users"}},` +
			`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"ob2","msgType":"txt","msg":"two","targetType":"users"}}]}`, []string{"ob1", "ob2"}},
	}
	for _, tc := range cases {
		t.Run(tc.in+"->"+tc.target, func(t *testing.T) {
			if !codecAvailable(tc.in) || !codecAvailable(tc.target) {
				t.Fatalf("missing plugins/%s and plugins/%s: run make plugins", tc.in, tc.target)
			}
			a := e.send(tc.in, tc.target, good, tc.path, tc.body)
			if !accepted(tc.in, a, tc.rcpts[0]) {
				t.Fatalf("answer %d %s", a.status, a.body)
			}
			for _, r := range tc.rcpts {
				if n := len(e.inbox(tc.target, r)); n != 1 {
					t.Errorf("%s got %d messages", r, n)
				}
			}
		})
	}
}

// TestMedia: an image sent by an Easemob client arrives at NetEase as an
// image with its URL and size, and the other way round.
func TestMedia(t *testing.T) {
	if !codecAvailable(config.Easemob) || !codecAvailable(config.Netease) {
		t.Fatal("missing plugins/easemob and plugins/netease: run make plugins")
	}
	e := newEnv(t, nil)
	url := "https://files.example.com/chatfiles/img-1.jpg"

	body := `{"from":"alice","to":["mi1"],"type":"img","body":{"url":"` + url + `","filename":"img-1.jpg","secret":"s1","size":{"width":480,"height":720}}}`
	a := e.send(config.Easemob, config.Netease, good, "/"+emOrg+"/"+emApp+"/messages/users", body)
	if !accepted(config.Easemob, a, "mi1") {
		t.Fatalf("easemob->netease: %d %s", a.status, a.body)
	}
	got := e.inbox(config.Netease, "mi1")
	if len(got) != 1 || got[0].Type != "1" {
		t.Fatalf("netease inbox: %+v", got)
	}
	att := gjson.GetBytes(got[0].Body, "message.attachment")
	if att.Get("url").String() != url || att.Get("width").Int() != 480 || att.Get("height").Int() != 720 {
		t.Errorf("attachment = %s", att.Raw)
	}

	nbody := `{"message":{"message_type":1,"attachment":{"name":"pic.png","url":"` + url + `","ext":"png","width":64,"height":32,"size":1024,"md5":"0123456789abcdef0123456789abcdef"}}}`
	a = e.send(config.Netease, config.Easemob, good, "/im/v2/conversations/alice%7C1%7Cmi2/messages", nbody)
	if !accepted(config.Netease, a, "mi2") {
		t.Fatalf("netease->easemob: %d %s", a.status, a.body)
	}
	got = e.inbox(config.Easemob, "mi2")
	if len(got) != 1 || got[0].Type != "img" {
		t.Fatalf("easemob inbox: %+v", got)
	}
	img := gjson.GetBytes(got[0].Body, "body")
	if img.Get("url").String() != url || img.Get("size.width").Int() != 64 {
		t.Errorf("easemob img body = %s", img.Raw)
	}
}

// TestMessageLimit: a batch over limits.max_messages is refused in the
// client's dialect and nothing is sent.
func TestMessageLimit(t *testing.T) {
	if !codecAvailable(config.Opapp) || !codecAvailable(config.Netease) {
		t.Fatal("missing plugins/opapp and plugins/netease: run make plugins")
	}
	e := newEnv(t, func(c *config.Config) { c.Limits.MaxMessages = 2 })
	msgs := []string{}
	for i := 0; i < 3; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"lim%d","msgType":"txt","msg":"x","targetType":"users"}}`, i))
	}
	a := e.send(config.Opapp, config.Netease, good, "/opapp/send2EasemobMessage", `{"reqUrl":"/x","messages":[`+strings.Join(msgs, ",")+`]}`)
	if c := gjson.Get(a.body, "code").Int(); c == 200 || !gjson.Get(a.body, "foot").Exists() {
		t.Fatalf("answer %d %s, want an opapp error", a.status, a.body)
	}
	if n := e.vendors[config.Netease].core.Inbox.Len(); n != 0 {
		t.Errorf("the provider received %d messages", n)
	}
}

// TestProviderFaults: a provider that drops the connection or answers too
// late is reported as not delivered (never as sent), and the request is
// not sent twice.
func TestProviderFaults(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		for _, p := range c.Providers {
			p.ReadTimeout = 300 * time.Millisecond
		}
	})
	in, target := e.dialect[0], config.Netease
	if !codecAvailable(target) {
		t.Fatal("missing plugins/netease: run make plugins")
	}
	core := e.vendors[target].core
	for _, f := range []emu.Faults{{DropRate: 1}, {Latency: emu.Duration(2 * time.Second)}} {
		must(t, core.Faults.Set(f))
		rcpt := "fault" + strconv.Itoa(int(core.Faults.Stats().Dropped))
		path, body := textRequest(in, rcpt, "may not arrive")
		a := e.send(in, target, good, path, body)
		if accepted(in, a, rcpt) {
			t.Errorf("fault %+v: reported as sent: %s", f, a.body)
		}
		st := core.Faults.Stats()
		if st.Dropped+st.Delayed != 1 {
			t.Errorf("fault %+v: the vendor saw %d calls, want 1 (no resend)", f, st.Dropped+st.Delayed)
		}
	}
	must(t, core.Faults.Set(emu.Faults{}))
}

// TestPartialFailureInOneRequest: a NetEase batch to three receivers goes
// to Youdu as one request; Youdu refuses one account, and the NetEase
// client sees exactly that receiver in failed_list.
func TestPartialFailureInOneRequest(t *testing.T) {
	if !codecAvailable(config.Netease) || !codecAvailable(config.Youdu) {
		t.Fatal("missing plugins/netease and plugins/youdu: run make plugins")
	}
	e := newEnv(t, nil)
	body := `{"sender_id":"alice","receiver_ids":["pr1","ghost","pr2"],"message":{"message_type":0,"text":"batch"}}`
	a := e.send(config.Netease, config.Youdu, good, "/im/v2/conversations/messages", body)
	if gjson.Get(a.body, "code").Int() != 200 {
		t.Fatalf("answer %s", a.body)
	}
	failed := gjson.Get(a.body, "data.failed_list.#.receiver_id").Array()
	if len(failed) != 1 || failed[0].String() != "ghost" {
		t.Errorf("failed_list = %s, want only ghost", gjson.Get(a.body, "data.failed_list").Raw)
	}
	ok := gjson.Get(a.body, "data.success_list.#.receiver_id").String()
	if !strings.Contains(ok, "pr1") || !strings.Contains(ok, "pr2") || strings.Contains(ok, "ghost") {
		t.Errorf("success_list = %s", gjson.Get(a.body, "data.success_list").Raw)
	}
	got := e.inbox(config.Youdu, "pr1")
	if len(got) != 1 || textOf(config.Youdu, got[0]) != "batch" {
		t.Errorf("youdu inbox for pr1: %+v", got)
	}
}
