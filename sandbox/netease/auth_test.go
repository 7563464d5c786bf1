package netease

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imrelay/imrelay/proxy/auth"
)

func TestNewRequiresCredentials(t *testing.T) {
	for _, cfg := range []Config{{}, {AppKey: "k"}, {AppSecret: "s"}} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "netease: ") {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

// Every authentication failure, on a v1 and on a v2 path: always HTTP 200,
// code 414, the description NetEase uses, in the shape of the API called.
func TestAuthFailures(t *testing.T) {
	h := newHarness(t, nil)
	now := t0.Unix()
	cases := []struct {
		name string
		c    call
		desc string
	}{
		{"no headers", call{unsigned: true}, descAppKey},
		{"missing AppKey", call{headers: map[string]string{"AppKey": ""}}, descAppKey},
		{"unknown AppKey", call{headers: map[string]string{"AppKey": "someone-else"}}, descAppKey},
		{"missing Nonce", call{headers: map[string]string{"Nonce": ""}}, descCheck},
		{"missing CurTime", call{headers: map[string]string{"CurTime": ""}}, descCheck},
		{"missing CheckSum", call{headers: map[string]string{"CheckSum": ""}}, descCheck},
		{"wrong CheckSum", call{headers: map[string]string{"CheckSum": auth.CheckSum("wrong", "n", "1")}}, descCheck},
		{"CheckSum of another Nonce", call{headers: map[string]string{"Nonce": "other"}}, descCheck},
		{"Nonce over 128 characters", call{headers: map[string]string{
			"Nonce":    strings.Repeat("n", 129),
			"CheckSum": auth.CheckSum(testSecret, strings.Repeat("n", 129), "1700000000"),
		}}, descCheck},
		{"CurTime 301 s old", call{curTime: now - 301}, descExpired},
		{"CurTime 301 s ahead", call{curTime: now + 301}, descExpired},
		{"CurTime in milliseconds", call{curTime: now * 1000}, descExpired},
		{"CurTime not a number", call{headers: map[string]string{
			"CurTime":  "yesterday",
			"CheckSum": auth.CheckSum(testSecret, "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99", "yesterday"),
		}}, descExpired},
	}
	paths := []struct {
		version apiVersion
		uri     string
		body    string
	}{
		{v1, "/nimserver/msg/sendMsg.action", textForm().Encode()},
		{v2, "/im/v2/conversations/alice%7C1%7Cbob/messages", `{"message":{"message_type":0,"text":"hi"}}`},
	}
	for _, p := range paths {
		for _, c := range cases {
			t.Run(c.name+" v"+string(rune('0'+p.version)), func(t *testing.T) {
				c.c.uri, c.c.body = p.uri, p.body
				a := h.do(c.c)
				a.wantCode(t, p.version, CodeParam, "")
				field := map[apiVersion]string{v1: "desc", v2: "msg"}[p.version]
				if got := a.json.Get(field).Str; got != c.desc {
					t.Fatalf("%s = %q, want %q", field, got, c.desc)
				}
			})
		}
	}
	if n := len(h.inbox()); n != 0 {
		t.Fatalf("%d messages accepted by failed calls", n)
	}
}

func TestAuthAccepts(t *testing.T) {
	h := newHarness(t, nil)
	now := t0.Unix()
	for _, c := range []call{
		{curTime: now - 300},
		{curTime: now + 300},
		{headers: map[string]string{"CheckSum": strings.ToUpper(auth.CheckSum(testSecret, "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99", "1700000000"))}},
		// Header names are case-insensitive, as in HTTP.
		{headers: map[string]string{"appkey": testKey}},
	} {
		c.uri, c.body = "/nimserver/msg/sendMsg.action", textForm().Encode()
		h.do(c).wantCode(t, v1, CodeOK, "")
	}
}

// The window follows the injected clock: a request signed now expires
// once the clock has moved on by more than five minutes.
func TestCurTimeWindowFollowsClock(t *testing.T) {
	h := newHarness(t, nil)
	signed := t0.Unix()
	c := call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode(), curTime: signed}
	h.do(c).wantCode(t, v1, CodeOK, "")
	h.clk.Advance(5 * time.Minute)
	h.do(c).wantCode(t, v1, CodeOK, "")
	h.clk.Advance(time.Second)
	h.do(c).wantCode(t, v1, CodeParam, descExpired)
}

func TestCustomWindow(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Window = 10 * time.Second })
	c := call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode(), curTime: t0.Unix() - 11}
	h.do(c).wantCode(t, v1, CodeParam, descExpired)
}
