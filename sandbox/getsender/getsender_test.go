package getsender

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) // 20:00:00 in Beijing

const query = "?apiVersion=01&client=" + DemoClient + "&token=" + DemoToken + "&sign=a48103465f7e4d0f9216228fb9538066"

const good = `{"messageType":1,"from":"op1","userId":"u42","isDisturb":false,"messageInfo":{"msg":"hi"},"ext":{"chatid":"c1"}}`

type fixture struct {
	t   *testing.T
	e   *Emulator
	cli *fasthttp.Client
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	cfg.Emu = emu.Config{Seed: 1, Now: emu.NewManualClock(t0).Now, Sleep: func(time.Duration) {}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := emu.StartInMemory(e.Handler())
	t.Cleanup(func() { _ = srv.Close() })
	return &fixture{t: t, e: e, cli: srv.Client()}
}

func (f *fixture) call(method, uri, body string) (int, string, map[string]any) {
	f.t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://sender" + uri)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := f.cli.Do(req, resp); err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(resp.Body(), &m)
	return resp.StatusCode(), string(resp.Body()), m
}

func (f *fixture) wantCode(uri, body string, status, code int, msg string) {
	f.t.Helper()
	st, raw, m := f.call("POST", uri, body)
	if st != status || m["code"] != float64(code) || m["message"] != msg || m["data"] != nil {
		f.t.Errorf("%s %.60s:\n got %d %s\nwant %d code %d %q", uri, body, st, raw, status, code, msg)
	}
}

func TestSuccessGolden(t *testing.T) {
	f := newFixture(t, Config{})
	st, raw, m := f.call("POST", Path+query, good)
	id := m["data"].(map[string]any)["getMessageId"].(string)
	want := `{"code":200,"message":"成功","data":{"getMessageId":"` + id + `"},"page":null,` +
		`"foot":{"operationTime":"2025-03-01 20:00:00","servicePhone":"400800400","host":"imrelay-sandbox"}}`
	if st != 200 || raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	msgs := f.e.Core().Inbox.List(emu.Filter{To: "u42"})
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].From != "op1" || msgs[0].Type != "1" || string(msgs[0].Body) != good ||
		msgs[0].Path != Path || msgs[0].Vendor != "getsender" {
		t.Fatalf("inbox %+v", msgs)
	}
	_, _, m2 := f.call("POST", Path+query, good)
	if m2["data"].(map[string]any)["getMessageId"] == id {
		t.Fatal("message ids repeat")
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, Config{})
	cases := []struct{ query, msg string }{
		{"", "鉴权失败: client不能为空"},
		{"?client=" + DemoClient, "鉴权失败: token不能为空"},
		{"?client=nobody&token=" + DemoToken, "鉴权失败: client不存在"},
		{"?client=" + DemoClient + "&token=wrong", "鉴权失败: token错误"},
	}
	for _, c := range cases {
		f.wantCode(Path+c.query, good, 200, CodeAuth, c.msg)
	}
	// No sign, or any sign, is accepted by default.
	if _, raw, m := f.call("POST", Path+"?client="+DemoClient+"&token="+DemoToken, good); m["code"] != float64(200) {
		t.Fatal(raw)
	}
	// Forced expiry.
	_ = f.e.Core().Faults.Set(emu.Faults{ExpireTokens: 1})
	f.wantCode(Path+query, good, 200, CodeAuth, "鉴权失败: token已失效")
	if _, raw, m := f.call("POST", Path+query, good); m["code"] != float64(200) {
		t.Fatal(raw)
	}
	if f.e.Core().Inbox.Len() != 2 {
		t.Fatal("refused calls reached the inbox")
	}
}

func TestSignCheck(t *testing.T) {
	f := newFixture(t, Config{CheckSign: func(q *fasthttp.Args, _ []byte) bool { return string(q.Peek("sign")) == "ok" }})
	f.wantCode(Path+query, good, 200, CodeAuth, "鉴权失败: sign错误")
	if _, raw, m := f.call("POST", Path+"?client="+DemoClient+"&token="+DemoToken+"&sign=ok", good); m["code"] != float64(200) {
		t.Fatal(raw)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t, Config{})
	base := map[string]string{
		"messageType": `1`, "from": `"op1"`, "userId": `"u1"`, "isDisturb": `true`, "messageInfo": `{"a":1}`,
	}
	build := func(over map[string]string) string {
		parts := []string{}
		for _, k := range []string{"messageType", "from", "userId", "isDisturb", "messageInfo", "ext"} {
			v, ok := over[k]
			if !ok {
				v, ok = base[k]
			}
			if ok && v != "-" {
				parts = append(parts, `"`+k+`":`+v)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	cases := []struct {
		over map[string]string
		msg  string
	}{
		{map[string]string{"messageType": "-"}, "messageType不能为空"},
		{map[string]string{"messageType": "null"}, "messageType不能为空"},
		{map[string]string{"messageType": "0"}, "messageType必须是1到10的整数"},
		{map[string]string{"messageType": "11"}, "messageType必须是1到10的整数"},
		{map[string]string{"messageType": "1.5"}, "messageType必须是1到10的整数"},
		{map[string]string{"messageType": `"text"`}, "messageType必须是1到10的整数"},
		{map[string]string{"from": "-"}, "from不能为空"},
		{map[string]string{"from": `""`}, "from不能为空"},
		{map[string]string{"from": `{}`}, "from不能为空"},
		{map[string]string{"userId": "-"}, "userId不能为空"},
		{map[string]string{"userId": `""`}, "userId不能为空"},
		{map[string]string{"isDisturb": "-"}, "isDisturb不能为空"},
		{map[string]string{"isDisturb": "null"}, "isDisturb不能为空"},
		{map[string]string{"isDisturb": `"maybe"`}, "isDisturb必须是布尔值"},
		{map[string]string{"isDisturb": `1`}, "isDisturb必须是布尔值"},
		{map[string]string{"messageInfo": "-"}, "messageInfo不能为空"},
		{map[string]string{"messageInfo": "null"}, "messageInfo不能为空"},
		{map[string]string{"messageInfo": `"hi"`}, "messageInfo必须是JSON对象"},
		{map[string]string{"ext": `"x"`}, "ext必须是JSON对象"},
	}
	for _, c := range cases {
		f.wantCode(Path+query, build(c.over), 200, CodeParam, "参数错误: "+c.msg)
	}
	f.wantCode(Path+query, `not json`, 200, CodeParam, "参数错误: 请求体不是合法的JSON对象")
	f.wantCode(Path+query, `[]`, 200, CodeParam, "参数错误: 请求体不是合法的JSON对象")
	if f.e.Core().Inbox.Len() != 0 {
		t.Fatal("refused calls reached the inbox")
	}
	// Every type 1..10 and the tolerated coercions pass.
	for _, over := range []map[string]string{
		{"messageType": "10"}, {"messageType": `"7"`}, {"userId": `148238038269428232`},
		{"isDisturb": `"false"`}, {"ext": "null"}, {"messageInfo": "{}"},
	} {
		if _, raw, m := f.call("POST", Path+query, build(over)); m["code"] != float64(200) {
			t.Errorf("%v: %s", over, raw)
		}
	}
}

func TestRoutesAndFaults(t *testing.T) {
	f := newFixture(t, Config{Host: "yinhou-MacBook-Pro.local"})
	f.wantCode("/sender/v1/other"+query, good, 404, CodeNotFound, "接口不存在: /sender/v1/other")
	st, _, m := f.call("GET", Path+query, "")
	if st != 405 || m["code"] != float64(CodeMethod) {
		t.Fatal(st, m)
	}
	if m["foot"].(map[string]any)["host"] != "yinhou-MacBook-Pro.local" {
		t.Fatal(m)
	}
	faults := f.e.Core().Faults
	_ = faults.Set(emu.Faults{ErrorRate: 1})
	f.wantCode(Path+query, good, 200, CodeInternal, "未知异常")
	_ = faults.Set(emu.Faults{RateLimit: 1})
	f.call("POST", Path+query, good)
	f.wantCode(Path+query, good, 200, CodeRateLimit, "请求过于频繁")
	faults.Reset()
	if st, raw, _ := f.call("GET", "/_sandbox/info", ""); st != 200 || !strings.Contains(raw, DemoToken) {
		t.Fatal(raw)
	}
}

func TestNewRejectsEmptyCredentials(t *testing.T) {
	if _, err := New(Config{Clients: map[string]string{"c": ""}}); err == nil || !strings.HasPrefix(err.Error(), "getsender: bad config") {
		t.Fatal(err)
	}
}
