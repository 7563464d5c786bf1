package e2e

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
)

// withPassthrough adds a NetEase route, on host pass.relay, that passes
// its clients' calls through to the NetEase emulator untranslated.
func withPassthrough(c *config.Config) {
	c.Routes = append([]config.Route{{
		Name: "netease-pass", Host: "pass.relay", Dialect: config.Netease, Target: config.Netease, Passthrough: true,
		Auth: config.Auth{Credentials: config.Credentials{AppKey: neAppKey, AppSecret: config.SecretValue(neAppSecret)}},
	}}, c.Routes...)
}

// signed returns the NetEase headers of a client call, with its content
// type.
func signed(contentType string) map[string]string {
	ct := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := "pass" + strconv.FormatInt(nonceSeq.Add(1), 10)
	return map[string]string{"Content-Type": contentType, "AppKey": neAppKey, "Nonce": nonce, "CurTime": ct, "CheckSum": auth.CheckSum(neAppSecret, nonce, ct)}
}

// TestPassthroughV2: a v2 single message, with members the canonical
// model has no place for, reaches the emulator's inbox as the client
// wrote it, and the client reads the emulator's own answer.
func TestPassthroughV2(t *testing.T) {
	e := newEnv(t, withPassthrough)
	body := `{"message":{"message_type":0,"text":"pass \u00e9 through","message_client_id":"c-1"},` +
		`"message_config":{"history_enabled":false},"route_config":{"route_enabled":false},"extension":"{\"k\":1}"}`
	a := e.do("pass", "POST", "/im/v2/conversations/alice%7C1%7Cbob/messages", signed("application/json;charset=utf-8"), []byte(body))
	got := e.inbox(config.Netease, "bob")
	if len(got) != 1 {
		t.Fatalf("bob's inbox holds %d messages, want 1 (answer %d %s)", len(got), a.status, a.body)
	}
	m := got[0]
	if string(m.Body) != body {
		t.Errorf("the emulator accepted\n%s\nwant the client's body as it was sent\n%s", m.Body, body)
	}
	if m.From != "alice" || m.Type != "0" || m.Path != "/nimserver/im/v2/conversations/alice|1|bob/messages" {
		t.Errorf("inbox message %+v", m)
	}
	if a.status != 200 || gjson.Get(a.body, "code").Int() != 200 || gjson.Get(a.body, "data.message_server_id").String() != m.ID {
		t.Errorf("client answer %d %s, want the emulator's answer with id %s", a.status, a.body, m.ID)
	}
	if gjson.Get(a.body, "data.message_client_id").String() != "c-1" {
		t.Errorf("client answer %s lost the message_client_id the emulator echoes", a.body)
	}
}

// TestPassthroughV1: a v1 sendMsg form, with a parameter the codec does
// not carry, reaches the emulator as sent.
func TestPassthroughV1(t *testing.T) {
	e := newEnv(t, withPassthrough)
	form := url.Values{
		"from":        {"alice"},
		"ope":         {"0"},
		"to":          {"carol"},
		"type":        {"0"},
		"body":        {`{"msg":"v1 as it is"}`},
		"pushcontent": {"a push text"},
		"markRead":    {"1"},
	}.Encode()
	a := e.do("pass", "POST", "/nimserver/msg/sendMsg.action", signed("application/x-www-form-urlencoded;charset=utf-8"), []byte(form))
	got := e.inbox(config.Netease, "carol")
	if len(got) != 1 {
		t.Fatalf("carol's inbox holds %d messages, want 1 (answer %d %s)", len(got), a.status, a.body)
	}
	m := got[0]
	b := string(m.Body)
	want := map[string]string{"from": "alice", "ope": "0", "to": "carol", "type": "0", "pushcontent": "a push text", "markRead": "1"}
	for k, v := range want {
		if got := gjson.Get(b, k).String(); got != v {
			t.Errorf("inbox %s = %q, want %q (body %s)", k, got, v, b)
		}
	}
	if raw := gjson.Get(b, "body").Raw; raw != `{"msg":"v1 as it is"}` {
		t.Errorf("inbox body = %s", raw)
	}
	if n := len(gjson.Parse(b).Map()); n != len(want)+1 {
		t.Errorf("inbox holds %d parameters, want exactly the client's %d: %s", n, len(want)+1, b)
	}
	if m.Path != "/nimserver/msg/sendMsg.action" || a.status != 200 || gjson.Get(a.body, "code").Int() != 200 ||
		strconv.FormatInt(gjson.Get(a.body, "data.msgid").Int(), 10) != m.ID {
		t.Errorf("path %s, client answer %d %s, want the emulator's answer with msgid %s", m.Path, a.status, a.body, m.ID)
	}
}
