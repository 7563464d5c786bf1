package youdu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestSendText(t *testing.T) {
	h := newHarness(t, nil)
	a := h.send(testApp, `{"toUser":"alice|bob","toDept":"12","msgType":"text","text":{"content":"hello"}}`)
	a.want(t, CodeOK)
	if a.json.Get("errmsg").Str != "ok" || a.body != `{"errcode":0,"errmsg":"ok"}` {
		t.Fatalf("answer %s", a.body)
	}
	in := h.inbox()
	if len(in) != 1 {
		t.Fatalf("inbox %+v", in)
	}
	m := in[0]
	if m.Vendor != Vendor || m.From != testApp || m.Type != "text" || m.Target != "toUser|toDept" ||
		strings.Join(m.To, ",") != "alice,bob,dept:12" || m.Path != "/cgi/msg/send" {
		t.Fatalf("inbox message %+v", m)
	}
	if gjson.GetBytes(m.Body, "text.content").Str != "hello" {
		t.Fatalf("inbox body %s", m.Body)
	}
}

// The known-answer vector of a text message is accepted as sent.
func TestSendKnownVector(t *testing.T) {
	h := newHarness(t, nil)
	const vector = "v6805vKW2awcnEiXuLdBsPg2YDa86IZDxgsNX1G/+1teojL+E7g73bsGkjsJoikq3jmbpC8DmdSytx8b5X4ZRzM0Y4/ohUz7G8ho5+OV0c0Ic0Igp0aGURliOXtPjIUMX5CZHFU8zcP0Jd6mXEP4n8qFe7ea80Zi5bFkd76vP4Gg1FaTl/J3tn3Mp4NZA/TIuK56YMFtAhZZefshjiqlJA=="
	h.post("/cgi/msg/send?accessToken="+h.token(testApp), envelopeJSON(testBuin, testApp, vector), "-").want(t, CodeOK)
	if m := h.inbox()[0]; strings.Join(m.To, ",") != "alice,bob" || m.Target != "toUser" {
		t.Fatalf("inbox %+v", m)
	}
}

func TestSendEnvelopeFailures(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	uri := "/cgi/msg/send?accessToken=" + tok
	h.post(uri, "nope", "").want(t, CodeBadJSON)
	h.post(uri, envelopeJSON(1, testApp, "x"), "").want(t, CodeBadBuin)
	h.post(uri, envelopeJSON(testBuin, testApp, "AAAA"), "").want(t, CodeBadEncrypt)
	h.post(uri, `{"buin":666666,"appId":"`+testApp+`"}`, "").want(t, CodeMissEncrypt)
	h.sendWith(tok, testApp, "not json").want(t, CodeBadJSON)
	h.sendWith(tok, testApp, `["a"]`).want(t, CodeBadJSON)
}

// Every validation rule of /cgi/msg/send.
func TestSendValidation(t *testing.T) {
	users := func(n int) string {
		u := make([]string, n)
		for i := range u {
			u[i] = fmt.Sprintf("u%d", i)
		}
		return strings.Join(u, "|")
	}
	depts := func(n int) string {
		d := make([]string, n)
		for i := range d {
			d[i] = fmt.Sprint(i + 1)
		}
		return strings.Join(d, "|")
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	article := `{"title":"t","media_id":"m","content":"c","digest":"d","showFront":1}`
	exl := `{"title":"t","url":"http://x","digest":"d","media_id":"m"}`
	arr := func(item string, n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	sysMsg := `"sysMsg":{"title":"notice","popDuration":6,"msg":[{"text":{"content":"it is a text"}},{"link":{"title":"t","url":"http://x","action":0}}]}`
	mail := `"mail":{"action":"new","subject":"s","fromUser":"u","fromEmail":"e@x","time":1542699050,"link":"http://x","unreadCount":5}`

	cases := []struct {
		name, app, payload string
		code               int
	}{
		// recipients
		{"toUser 1000", testApp, `{"toUser":"` + users(1000) + `","msgType":"text","text":{"content":"x"}}`, CodeOK},
		{"toUser 1001", testApp, `{"toUser":"` + users(1001) + `","msgType":"text","text":{"content":"x"}}`, CodeToUserTooLong},
		{"toUser only bars", testApp, `{"toUser":"||","msgType":"text","text":{"content":"x"}}`, CodeBadToUser},
		{"toUser with a trailing bar", testApp, `{"toUser":"alice|","msgType":"text","text":{"content":"x"}}`, CodeOK},
		{"toUser a list", testApp, `{"toUser":["alice"],"msgType":"text","text":{"content":"x"}}`, CodeBadJSON},
		{"toDept 100", testApp, `{"toDept":"` + depts(100) + `","msgType":"text","text":{"content":"x"}}`, CodeOK},
		{"toDept 101", testApp, `{"toDept":"` + depts(101) + `","msgType":"text","text":{"content":"x"}}`, CodeBadRequest},
		{"toDept 0 = everyone", testApp, `{"toDept":"0","msgType":"text","text":{"content":"x"}}`, CodeOK},
		{"toDept not a number", testApp, `{"toDept":"sales","msgType":"text","text":{"content":"x"}}`, CodeBadDeptIDFormat},
		{"toDept negative", testApp, `{"toDept":"-1","msgType":"text","text":{"content":"x"}}`, CodeBadDeptIDFormat},
		{"no recipients", testApp, `{"msgType":"text","text":{"content":"x"}}`, CodeBadRequest},
		{"both empty", testApp, `{"toUser":"","toDept":"","msgType":"text","text":{"content":"x"}}`, CodeBadRequest},
		// msgType
		{"no msgType", testApp, `{"toUser":"a","text":{"content":"x"}}`, CodeBadJSON},
		{"msgType voice", testApp, `{"toUser":"a","msgType":"voice","voice":{"media_id":"m"}}`, CodeBadJSON},
		{"msgType a number", testApp, `{"toUser":"a","msgType":1}`, CodeBadJSON},
		// text
		{"text without member", testApp, `{"toUser":"a","msgType":"text"}`, CodeBadJSON},
		{"text a string", testApp, `{"toUser":"a","msgType":"text","text":"hi"}`, CodeBadJSON},
		{"text without content", testApp, `{"toUser":"a","msgType":"text","text":{}}`, CodeBadJSON},
		{"text empty content", testApp, `{"toUser":"a","msgType":"text","text":{"content":""}}`, CodeBadJSON},
		{"text numeric content", testApp, `{"toUser":"a","msgType":"text","text":{"content":5}}`, CodeBadJSON},
		{"text with a stray sysMsg (addcnos)", testApp, `{"toUser":"a","msgType":"text","text":{"content":"x"},"sysMsg":{}}`, CodeOK},
		// image, file
		{"image", testApp, `{"toUser":"a","msgType":"image","image":{"media_id":"m"}}`, CodeOK},
		{"image without media_id", testApp, `{"toUser":"a","msgType":"image","image":{}}`, CodeBadJSON},
		{"file", testApp, `{"toUser":"a","msgType":"file","file":{"media_id":"m"}}`, CodeOK},
		{"file with empty media_id", testApp, `{"toUser":"a","msgType":"file","file":{"media_id":""}}`, CodeBadJSON},
		// mpnews
		{"mpnews 5", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":` + arr(article, 5) + `}`, CodeOK},
		{"mpnews 6", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":` + arr(article, 6) + `}`, CodeBadRequest},
		{"mpnews 0", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[]}`, CodeBadRequest},
		{"mpnews an object", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":` + article + `}`, CodeBadJSON},
		{"mpnews without media_id", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[{"title":"t","content":"c"}]}`, CodeBadJSON},
		{"mpnews without title", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[{"media_id":"m","content":"c"}]}`, CodeBadJSON},
		{"mpnews without content", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[{"title":"t","media_id":"m"}]}`, CodeBadJSON},
		{"mpnews showFront 2", testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[{"title":"t","media_id":"m","content":"c","showFront":2}]}`, CodeBadJSON},
		{"mpNews with show_front (go-packagist)", testApp, `{"toUser":"a","msgType":"mpnews","mpNews":[{"title":"t","media_id":"m","content":"c","show_front":1}]}`, CodeOK},
		// link
		{"link", testApp, `{"toUser":"a","msgType":"link","link":{"title":"t","url":"http://x","action":1}}`, CodeOK},
		{"link without url", testApp, `{"toUser":"a","msgType":"link","link":{"title":"t"}}`, CodeBadJSON},
		{"link title 65", testApp, `{"toUser":"a","msgType":"link","link":{"title":"` + long(65) + `","url":"http://x"}}`, CodeBadRequest},
		{"link action 2", testApp, `{"toUser":"a","msgType":"link","link":{"title":"t","url":"http://x","action":2}}`, CodeBadJSON},
		// exlink
		{"exlink 5", testApp, `{"toUser":"a","msgType":"exlink","exlink":` + arr(exl, 5) + `}`, CodeOK},
		{"exlink 6", testApp, `{"toUser":"a","msgType":"exlink","exlink":` + arr(exl, 6) + `}`, CodeBadRequest},
		{"exlink without media_id", testApp, `{"toUser":"a","msgType":"exlink","exlink":[{"title":"t","url":"u"}]}`, CodeBadJSON},
		{"exlink title 65", testApp, `{"toUser":"a","msgType":"exlink","exlink":[{"title":"` + long(65) + `","url":"u","media_id":"m"}]}`, CodeBadRequest},
		{"exlink with YD-JAVA extras", testApp, `{"toUser":"a","msgType":"exlink","exlink":[{"title":"t","url":"u","media_id":"m","link_type":1,"subtitle":"s","date_hide":true}]}`, CodeOK},
		// sysMsg
		{"sysMsg with onliyOnline", AppSysMsg, `{"toAll":{"onliyOnline":true},"msgType":"sysMsg",` + sysMsg + `}`, CodeOK},
		{"sysMsg with onlyOnline", AppSysMsg, `{"toAll":{"onlyOnline":false},"msgType":"sysMsg",` + sysMsg + `}`, CodeOK},
		{"sysMsg toAll without the flag", AppSysMsg, `{"toAll":{},"msgType":"sysMsg",` + sysMsg + `}`, CodeBadJSON},
		{"sysMsg to users", AppSysMsg, `{"toUser":"a","msgType":"sysMsg",` + sysMsg + `}`, CodeOK},
		{"sysMsg from an ordinary app", testApp, `{"toUser":"a","msgType":"sysMsg",` + sysMsg + `}`, CodeBadAppID},
		{"sysMsg without recipients", AppSysMsg, `{"msgType":"sysMsg",` + sysMsg + `}`, CodeBadRequest},
		{"sysMsg empty msg", AppSysMsg, `{"toUser":"a","msgType":"sysMsg","sysMsg":{"title":"t","msg":[]}}`, CodeBadJSON},
		{"sysMsg unknown part", AppSysMsg, `{"toUser":"a","msgType":"sysMsg","sysMsg":{"title":"t","msg":[{"image":{}}]}}`, CodeBadJSON},
		{"sysMsg without title", AppSysMsg, `{"toUser":"a","msgType":"sysMsg","sysMsg":{"msg":[{"text":{"content":"x"}}]}}`, CodeBadJSON},
		{"sysMsg title 65", AppSysMsg, `{"toUser":"a","msgType":"sysMsg","sysMsg":{"title":"` + long(65) + `","msg":[{"text":{"content":"x"}}]}}`, CodeBadRequest},
		{"sysMsg popDuration a string", AppSysMsg, `{"toUser":"a","msgType":"sysMsg","sysMsg":{"title":"t","popDuration":"6","msg":[{"text":{"content":"x"}}]}}`, CodeBadJSON},
		// sms
		{"sms", testApp, `{"toUser":"a","msgType":"sms","sms":{"from":"13854675829","content":"it is a sms"}}`, CodeOK},
		{"sms without from", testApp, `{"toUser":"a","msgType":"sms","sms":{"content":"x"}}`, CodeBadJSON},
		// mail
		{"mail to emails", AppSysEmail, `{"toEmail":"a@x|b@x","msgType":"mail",` + mail + `}`, CodeOK},
		{"mail from an ordinary app", testApp, `{"toUser":"a","msgType":"mail",` + mail + `}`, CodeBadAppID},
		{"mail bad action", AppSysEmail, `{"toUser":"a","msgType":"mail","mail":{"action":"old"}}`, CodeBadJSON},
		{"mail time a string", AppSysEmail, `{"toUser":"a","msgType":"mail","mail":{"time":"now"}}`, CodeBadJSON},
		{"mail without member", AppSysEmail, `{"toUser":"a","msgType":"mail"}`, CodeBadJSON},
	}
	h := newHarness(t, nil)
	toks := map[string]string{}
	for _, app := range []string{testApp, AppSysMsg, AppSysEmail} {
		toks[app] = h.token(app)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(h.inbox())
			h.sendWith(toks[c.app], c.app, c.payload).want(t, c.code)
			want := before
			if c.code == CodeOK {
				want++
			}
			if got := len(h.inbox()); got != want {
				t.Fatalf("inbox holds %d messages, want %d", got, want)
			}
		})
	}
}

func TestSendRecipientsInInbox(t *testing.T) {
	h := newHarness(t, nil)
	h.send(AppSysMsg, `{"toAll":{"onliyOnline":true},"msgType":"sysMsg","sysMsg":{"title":"t","msg":[{"text":{"content":"x"}}]}}`).want(t, CodeOK)
	h.send(AppSysEmail, `{"toEmail":"a@x|b@x","msgType":"mail","mail":{"action":"unread","unreadCount":3}}`).want(t, CodeOK)
	// toEmail is ignored when toUser is set.
	h.send(AppSysEmail, `{"toUser":"alice","toEmail":"a@x","msgType":"mail","mail":{"action":"unread"}}`).want(t, CodeOK)
	h.send(testApp, `{"toDept":"0","msgType":"text","text":{"content":"all hands"}}`).want(t, CodeOK)
	in := h.inbox()
	got := []string{}
	for _, m := range in {
		got = append(got, m.Target+"="+strings.Join(m.To, ","))
	}
	want := []string{"toAll=all", "toEmail=a@x,b@x", "toUser=alice", "toDept=dept:0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	if in[0].From != AppSysMsg || in[1].From != AppSysEmail {
		t.Fatalf("senders %q %q", in[0].From, in[1].From)
	}
}

// Youdu truncates over-long texts rather than refusing them; the inbox
// shows what recipients would see.
func TestSendTruncation(t *testing.T) {
	h := newHarness(t, nil)
	h.send(testApp, textPayload("alice", strings.Repeat("字", 700))).want(t, CodeOK)
	if got := gjson.GetBytes(h.inbox()[0].Body, "text.content").Str; got != strings.Repeat("字", 600) {
		t.Fatalf("text truncated to %d characters", len([]rune(got)))
	}
	h.send(testApp, `{"toUser":"a","msgType":"mpnews","mpnews":[{"title":"`+strings.Repeat("t", 70)+`","media_id":"m","content":"c","digest":"`+strings.Repeat("d", 130)+`"}]}`).want(t, CodeOK)
	b := h.inbox()[1].Body
	if len(gjson.GetBytes(b, "mpnews.0.title").Str) != 64 || len(gjson.GetBytes(b, "mpnews.0.digest").Str) != 120 {
		t.Fatalf("mpnews not truncated: %s", b)
	}
	h.send(testApp, `{"toUser":"a","msgType":"sms","sms":{"from":"1","content":"`+strings.Repeat("s", 601)+`"}}`).want(t, CodeOK)
	if n := len(gjson.GetBytes(h.inbox()[2].Body, "sms.content").Str); n != 600 {
		t.Fatalf("sms content %d", n)
	}
}

func TestSendUnknownUsers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UnknownUsers = []string{"ghost", "phantom"} })
	a := h.send(testApp, textPayload("alice|ghost|phantom", "hi"))
	a.want(t, CodeOK)
	if got := a.json.Get("errmsg").Str; got != "invalid toUser: ghost|phantom" {
		t.Fatalf("errmsg %q", got)
	}
	if m := h.inbox()[0]; strings.Join(m.To, ",") != "alice" {
		t.Fatalf("inbox %+v", m)
	}
	h.send(testApp, textPayload("ghost", "hi")).want(t, CodeBadToUser)
	// With a department left, the call succeeds.
	h.send(testApp, `{"toUser":"ghost","toDept":"3","msgType":"text","text":{"content":"x"}}`).want(t, CodeOK)
	if n := len(h.inbox()); n != 2 {
		t.Fatalf("inbox holds %d", n)
	}
}
