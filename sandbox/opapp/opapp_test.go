package opapp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

var t0 = time.Date(2016, 3, 17, 7, 49, 18, 0, time.UTC) // 15:49:18 in Beijing

const query = "?apiVersion=01&client=" + DemoClient + "&version=1.15&channel=" + DemoChannel + "&sign=3772542aadc4e15b24c628be0e84eb24"

// seedMsg is the message of the seed's example request.
const seedMsg = `{"msgType":"txt","msgBody":{"toUser":"148238038269428232","fromUser":"o0001c50f32abad2a443ba36da03f5f10371c",` +
	`"msgType":"txt","msg":"测试123","mediaFile":"","ext":null},"fileUrl":""}`

func batch(msgs ...string) string {
	return `{"reqUrl":"/hxSend/send2EasemobMessage","messages":[` + strings.Join(msgs, ",") + `]}`
}

// msg builds a message; fields of the body given as JSON fragments.
func msg(typ string, body string, extra string) string {
	return `{"msgType":"` + typ + `","msgBody":{` + body + `}` + extra + `}`
}

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
	req.SetRequestURI("http://opapp" + uri)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := f.cli.Do(req, resp); err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(resp.Body(), &m)
	return resp.StatusCode(), string(resp.Body()), m
}

func (f *fixture) wantCode(uri, body string, code int, message string) {
	f.t.Helper()
	_, raw, m := f.call("POST", uri, body)
	if m["code"] != float64(code) || m["message"] != message {
		f.t.Errorf("%.80s:\n got %s\nwant code %d %q", body, raw, code, message)
	}
}

func TestSuccessGolden(t *testing.T) {
	f := newFixture(t, Config{})
	_, raw, _ := f.call("POST", Path+query, batch(seedMsg, seedMsg))
	want := `{"code":200,"message":"成功","data":[],"page":null,` +
		`"foot":{"operationTime":"2016-03-17 15:49:18","servicePhone":"400800400","host":"imrelay-sandbox"}}`
	if raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	msgs := f.e.Core().Inbox.List(emu.Filter{To: "148238038269428232"})
	if len(msgs) != 2 || msgs[0].From != "o0001c50f32abad2a443ba36da03f5f10371c" || msgs[0].Type != "txt" ||
		msgs[0].Target != "chatgroups" || string(msgs[0].Body) != seedMsg || msgs[0].ID == "" || msgs[0].ID == msgs[1].ID {
		t.Fatalf("inbox %+v", msgs)
	}
}

func TestPartialFailureGolden(t *testing.T) {
	f := newFixture(t, Config{Host: "yinuo-PC"})
	// The error-rate fault fails every message: the seed's example answer.
	_ = f.e.Core().Faults.Set(emu.Faults{ErrorRate: 1})
	_, raw, _ := f.call("POST", Path+query, batch(seedMsg, seedMsg))
	echo := `{"msgType":"txt","msgBody":{"toUser":"148238038269428232","fromUser":"o0001c50f32abad2a443ba36da03f5f10371c",` +
		`"msgType":"txt","msg":"测试123","mediaFile":"","ext":""},"fileUrl":""}`
	want := `{"code":500,"message":"[未知异常, 未知异常]","data":[` + echo + `,` + echo + `],` +
		`"foot":{"operationTime":"2016-03-17 15:49:18","servicePhone":"400800400","host":"yinuo-PC"}}`
	if raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	if f.e.Core().Inbox.Len() != 0 {
		t.Fatal("failed messages reached the inbox")
	}
}

func TestPartialFailureByRate(t *testing.T) {
	f := newFixture(t, Config{})
	_ = f.e.Core().Faults.Set(emu.Faults{ErrorRate: 0.5})
	msgs := make([]string, 40)
	for i := range msgs {
		msgs[i] = msg("txt", fmt.Sprintf(`"toUser":"u%d","fromUser":"f","msgType":"txt","msg":"m"`, i), "")
	}
	_, _, m := f.call("POST", Path+query, batch(msgs...))
	failed := m["data"].([]any)
	if m["code"] != float64(500) || len(failed) == 0 || len(failed) == 40 {
		t.Fatalf("error_rate 0.5 over 40 messages: code %v, %d failed", m["code"], len(failed))
	}
	if got := f.e.Core().Inbox.Len(); got+len(failed) != 40 {
		t.Fatalf("accepted %d + failed %d != 40", got, len(failed))
	}
	// Failed and accepted messages are disjoint.
	for _, x := range failed {
		to := x.(map[string]any)["msgBody"].(map[string]any)["toUser"].(string)
		if len(f.e.Core().Inbox.List(emu.Filter{To: to})) != 0 {
			t.Fatalf("%s both failed and accepted", to)
		}
	}
}

func TestMessageValidation(t *testing.T) {
	f := newFixture(t, Config{})
	common := `"toUser":"u1","fromUser":"f1"`
	cases := []struct{ msg, reason string }{
		{`"just a string"`, "消息格式错误"},
		{`{"msgBody":{` + common + `,"msgType":"txt","msg":"x"}}`, "msgType不能为空"},
		{msg("text", common+`,"msgType":"text","msg":"x"`, ""), "msgType不支持: text"},
		{`{"msgType":"txt"}`, "msgBody不能为空"},
		{`{"msgType":"txt","msgBody":null}`, "msgBody不能为空"},
		{`{"msgType":"txt","msgBody":"not json"}`, "msgBody不能为空"},
		{msg("txt", `"toUser":"u1","msgType":"txt","msg":"x"`, ""), "fromUser不能为空"},
		{msg("txt", `"fromUser":"f1","msgType":"txt","msg":"x"`, ""), "toUser不能为空"},
		{msg("txt", common+`,"msg":"x"`, ""), "msgBody.msgType不能为空"},
		{msg("txt", common+`,"msgType":"img","msg":"x"`, ""), "msgBody.msgType与msgType不一致"},
		{msg("txt", common+`,"msgType":"txt"`, ""), "msg不能为空"},
		{msg("txt", common+`,"msgType":"txt","msg":""`, ""), "msg不能为空"},
		{msg("img", common+`,"msgType":"img"`, `,"fileUrl":""`), "fileUrl不能为空"},
		{msg("audio", common+`,"msgType":"audio"`, ""), "fileUrl不能为空"},
		{msg("txt", common+`,"msgType":"txt","msg":"x","ext":[1]`, ""), "ext必须是JSON对象"},
		{msg("txt", common+`,"msgType":"txt","msg":"x","targetType":"chatrooms"`, ""), "targetType不支持: chatrooms"},
	}
	for _, c := range cases {
		f.wantCode(Path+query, batch(c.msg), CodeFailed, "["+c.reason+"]")
	}
	// One bad message among good ones: only it is echoed.
	good := msg("txt", common+`,"msgType":"txt","msg":"x"`, "")
	_, _, m := f.call("POST", Path+query, batch(good, msg("txt", common+`,"msgType":"txt"`, ""), good))
	if m["code"] != float64(500) || m["message"] != "[msg不能为空]" || len(m["data"].([]any)) != 1 {
		t.Fatalf("%v", m)
	}
	if _, has := m["page"]; has {
		t.Fatal("failure answer has page")
	}
	if f.e.Core().Inbox.Len() != 2 {
		t.Fatalf("inbox %d", f.e.Core().Inbox.Len())
	}
	// Accepted variants.
	okMsgs := []string{
		msg("img", common+`,"msgType":"img"`, `,"fileUrl":"http://x/a.jpg"`),
		msg("video", common+`,"msgType":"video","mediaFile":"m1"`, ""),
		msg("file", common+`,"msgType":"file"`, `,"fileUrl":"http://x/f"`),
		msg("loc", common+`,"msgType":"loc"`, ""),
		msg("cmd", common+`,"msgType":"cmd","msg":"action1"`, ""),
		msg("txt", `"toUser":148238038269428232,"fromUser":"f","msgType":"txt","msg":"x","targetType":"users","ext":{"k":"v"}`, ""),
		msg("txt", common+`,"msgType":"txt","msg":"x","ext":""`, ""),
		`{"msgType":"txt","msgBody":"{\"toUser\":\"s1\",\"fromUser\":\"f\",\"msgType\":\"txt\",\"msg\":\"x\"}"}`,
	}
	f.e.Core().Inbox.Clear()
	_, raw, m := f.call("POST", Path+query, batch(okMsgs...))
	if m["code"] != float64(200) || f.e.Core().Inbox.Len() != len(okMsgs) {
		t.Fatalf("%s", raw)
	}
	if u := f.e.Core().Inbox.List(emu.Filter{To: "148238038269428232"}); len(u) != 1 || u[0].Target != "users" {
		t.Fatalf("%+v", u)
	}
}

func TestRequestValidation(t *testing.T) {
	f := newFixture(t, Config{})
	f.wantCode(Path+query, `nope`, CodeParam, "参数错误: 请求体不是合法的JSON对象")
	f.wantCode(Path+query, `[]`, CodeParam, "参数错误: 请求体不是合法的JSON对象")
	f.wantCode(Path+query, `{"messages":[`+seedMsg+`]}`, CodeParam, "参数错误: reqUrl不能为空")
	f.wantCode(Path+query, `{"reqUrl":"","messages":[`+seedMsg+`]}`, CodeParam, "参数错误: reqUrl不能为空")
	f.wantCode(Path+query, `{"reqUrl":"/x"}`, CodeParam, "参数错误: messages不能为空")
	f.wantCode(Path+query, `{"reqUrl":"/x","messages":[]}`, CodeParam, "参数错误: messages不能为空")
	f.wantCode(Path+query, `{"reqUrl":"/x","messages":{}}`, CodeParam, "参数错误: 请求体不是合法的JSON对象")
	many := make([]string, MaxMessages+1)
	for i := range many {
		many[i] = "1"
	}
	f.wantCode(Path+query, `{"reqUrl":"/x","messages":[`+strings.Join(many, ",")+`]}`, CodeParam, "参数错误: messages不能超过1000条")
}

func TestAuth(t *testing.T) {
	f := newFixture(t, Config{})
	body := batch(seedMsg)
	f.wantCode(Path, body, CodeAuth, "鉴权失败: client不能为空")
	f.wantCode(Path+"?client="+DemoClient, body, CodeAuth, "鉴权失败: channel不能为空")
	f.wantCode(Path+"?client=x&channel="+DemoChannel, body, CodeAuth, "鉴权失败: client不存在")
	f.wantCode(Path+"?client="+DemoClient+"&channel=x", body, CodeAuth, "鉴权失败: channel错误")
	_ = f.e.Core().Faults.Set(emu.Faults{ExpireTokens: 1})
	f.wantCode(Path+query, body, CodeAuth, "鉴权失败: token已失效")
	f.wantCode(Path+query, body, CodeOK, "成功")

	g := newFixture(t, Config{CheckSign: func(q *fasthttp.Args, b []byte) bool { return len(b) > 0 && string(q.Peek("sign")) == "good" }})
	g.wantCode(Path+query, body, CodeAuth, "鉴权失败: sign错误")
	g.wantCode(Path+"?client="+DemoClient+"&channel="+DemoChannel+"&sign=good", body, CodeOK, "成功")
}

func TestRoutesAndFaults(t *testing.T) {
	f := newFixture(t, Config{})
	st, _, m := f.call("POST", "/opapp/other"+query, batch(seedMsg))
	if st != 404 || m["code"] != float64(CodeNotFound) {
		t.Fatal(st, m)
	}
	st, _, m = f.call("GET", Path+query, "")
	if st != 405 || m["code"] != float64(CodeMethod) {
		t.Fatal(st, m)
	}
	_ = f.e.Core().Faults.Set(emu.Faults{RateLimit: 1})
	f.wantCode(Path+query, batch(seedMsg), CodeOK, "成功")
	f.wantCode(Path+query, batch(seedMsg), CodeRateLimit, "请求过于频繁")
}

func TestNewRejectsEmptyCredentials(t *testing.T) {
	if _, err := New(Config{Clients: map[string]string{"": "x"}}); err == nil || !strings.HasPrefix(err.Error(), "opapp: bad config") {
		t.Fatal(err)
	}
}
