package netease

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestSendMsgSuccess(t *testing.T) {
	h := newHarness(t, nil)
	f := textForm()
	f.Set("pushcontent", "you have mail")
	f.Set("option", `{"push":false,"roam":true}`)
	f.Set("ext", "opaque")
	a := h.v1("sendMsg.action", f)
	a.wantCode(t, v1, CodeOK, "")
	wantKeys(t, a.json, "code", "data")
	wantKeys(t, a.json.Get("data"), "msgid", "timetag", "antispam")
	d := a.json.Get("data")
	if d.Get("msgid").Type != gjson.Number || d.Get("msgid").Int() <= 0 {
		t.Fatalf("msgid %s", d.Get("msgid").Raw)
	}
	if d.Get("timetag").Int() != t0.UnixMilli() || d.Get("antispam").Raw != "false" {
		t.Fatalf("data %s", d.Raw)
	}

	in := h.inbox()
	if len(in) != 1 {
		t.Fatalf("inbox %+v", in)
	}
	m := in[0]
	if m.Vendor != Vendor || m.From != "alice" || len(m.To) != 1 || m.To[0] != "bob" ||
		m.Target != "p2p" || m.Type != "0" || m.ID != d.Get("msgid").Raw || m.Path != "/nimserver/msg/sendMsg.action" {
		t.Fatalf("inbox message %+v", m)
	}
	body := gjson.ParseBytes(m.Body)
	if body.Get("body.msg").Str != "hello" || body.Get("option.roam").Raw != "true" ||
		body.Get("pushcontent").Str != "you have mail" || body.Get("ext").Str != "opaque" || body.Get("ope").Str != "0" {
		t.Fatalf("inbox body %s", m.Body)
	}
}

func TestSendMsgTolerance(t *testing.T) {
	h := newHarness(t, nil)
	// No Content-Type at all.
	h.do(call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode(), contentType: "-"}).wantCode(t, v1, CodeOK, "")
	// Without the /nimserver prefix.
	h.do(call{uri: "/msg/sendMsg.action", body: textForm().Encode()}).wantCode(t, v1, CodeOK, "")
	// Parameters in the query string.
	h.do(call{uri: "/nimserver/msg/sendMsg.action?" + textForm().Encode()}).wantCode(t, v1, CodeOK, "")
	// The SDKs' pushContent spelling, validated like pushcontent.
	f := textForm()
	f.Set("pushContent", strings.Repeat("p", 501))
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeParam, "pushcontent")
	f.Set("pushContent", "short")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeOK, "")
	if got := gjson.GetBytes(h.inbox()[3].Body, "pushContent").Str; got != "short" {
		t.Fatalf("pushContent in inbox = %q", got)
	}
	// A team message.
	f = textForm()
	f.Set("ope", "1")
	f.Set("to", "12345")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeOK, "")
	if m := h.inbox()[4]; m.Target != "team" || m.To[0] != "12345" {
		t.Fatalf("team message %+v", m)
	}
}

func TestSendMsgIDsUnique(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[int64]bool{}
	for range 50 {
		id := h.v1("sendMsg.action", textForm()).json.Get("data.msgid").Int()
		if seen[id] {
			t.Fatalf("msgid %d repeated", id)
		}
		seen[id] = true
	}
}

// Every validation rule of sendMsg.action: the form is textForm with the
// listed parameters replaced ("" deletes).
func TestSendMsgValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		set  map[string]string
		ok   bool
		desc string
	}{
		{"missing from", map[string]string{"from": ""}, false, "from: required"},
		{"from of 33 characters", map[string]string{"from": long(33)}, false, "from: longer than 32"},
		{"from of 32 characters", map[string]string{"from": long(32)}, true, ""},
		{"missing ope", map[string]string{"ope": ""}, false, "ope: required"},
		{"ope 2", map[string]string{"ope": "2"}, false, "ope: must be 0"},
		{"missing to", map[string]string{"to": ""}, false, "to: required"},
		{"to of 33 characters", map[string]string{"to": long(33)}, false, "to: longer than 32"},
		{"missing type", map[string]string{"type": ""}, false, "type: required"},
		{"type 5", map[string]string{"type": "5"}, false, "type: must be one of"},
		{"type 01", map[string]string{"type": "01"}, false, "type: must be one of"},
		{"type text", map[string]string{"type": "text"}, false, "type: must be one of"},
		{"missing body", map[string]string{"body": ""}, false, "body: required"},
		{"body not JSON", map[string]string{"body": "hello"}, false, "body: not JSON"},
		{"body an array", map[string]string{"body": `["hello"]`}, false, "body: not a JSON object"},
		{"body of 5001 characters", map[string]string{"body": `{"msg":"` + strings.Repeat("字", 4991) + `"}`}, false, "body: 5001 characters"},
		{"body of 5000 characters", map[string]string{"body": `{"msg":"` + strings.Repeat("字", 4990) + `"}`}, true, ""},
		{"text without msg", map[string]string{"body": `{"text":"hi"}`}, false, "body.msg: required"},
		{"text with empty msg", map[string]string{"body": `{"msg":""}`}, false, "body.msg: must not be empty"},
		{"text with numeric msg", map[string]string{"body": `{"msg":5}`}, false, "body.msg: must be a string"},
		{"tip", map[string]string{"type": "10", "body": `{"msg":"joined"}`}, true, ""},
		{"tip without msg", map[string]string{"type": "10", "body": `{}`}, false, "body.msg: required"},
		{"image", map[string]string{"type": "1", "body": `{"name":"a.jpg","md5":"9894907e","url":"http://img/a.jpg","ext":"jpg","w":6814,"h":2332,"size":388245}`}, true, ""},
		{"image without url", map[string]string{"type": "1", "body": `{"name":"a.jpg","w":1,"h":1}`}, false, "body.url: required"},
		{"image with string w", map[string]string{"type": "1", "body": `{"url":"http://img/a.jpg","w":"6814"}`}, false, "body.w: must be a number"},
		{"voice", map[string]string{"type": "2", "body": `{"dur":4551,"md5":"x","url":"http://v/a.aac","ext":"aac","size":16420}`}, true, ""},
		{"voice not aac", map[string]string{"type": "2", "body": `{"dur":4551,"url":"http://v/a.mp3","ext":"mp3"}`}, false, "aac"},
		{"voice with string dur", map[string]string{"type": "2", "body": `{"dur":"4551","url":"http://v/a.aac"}`}, false, "body.dur: must be a number"},
		{"video", map[string]string{"type": "3", "body": `{"dur":8003,"md5":"x","url":"http://v/a.mp4","w":360,"h":480,"ext":"mp4","size":16420}`}, true, ""},
		{"video without url", map[string]string{"type": "3", "body": `{"dur":8003}`}, false, "body.url: required"},
		{"location", map[string]string{"type": "4", "body": `{"title":"Hangzhou","lng":120.19,"lat":30.18}`}, true, ""},
		{"location without lat", map[string]string{"type": "4", "body": `{"title":"x","lng":120.19}`}, false, "body.lat: required"},
		{"location with string lng", map[string]string{"type": "4", "body": `{"lat":30.18,"lng":"120.19"}`}, false, "body.lng: must be a number"},
		{"location lat 91", map[string]string{"type": "4", "body": `{"lat":91,"lng":0}`}, false, "body.lat: out of range"},
		{"location lng -181", map[string]string{"type": "4", "body": `{"lat":0,"lng":-181}`}, false, "body.lng: out of range"},
		{"file", map[string]string{"type": "6", "body": `{"name":"a.ttf","md5":"79d6","url":"http://f/a.ttf","ext":"ttf","size":91680}`}, true, ""},
		{"file without url", map[string]string{"type": "6", "body": `{"name":"a.ttf"}`}, false, "body.url: required"},
		{"custom", map[string]string{"type": "100", "body": `{"anything":[1,2,3]}`}, true, ""},
		{"custom not an object", map[string]string{"type": "100", "body": `"x"`}, false, "body: not a JSON object"},
		{"msgDesc of 501", map[string]string{"msgDesc": long(501)}, false, "msgDesc: 501 characters"},
		{"msgDesc of 500", map[string]string{"msgDesc": long(500)}, true, ""},
		{"pushcontent of 501", map[string]string{"pushcontent": long(501)}, false, "pushcontent: 501"},
		{"payload not JSON", map[string]string{"payload": "x"}, false, "payload: not a JSON object"},
		{"payload of 2049", map[string]string{"payload": `{"k":"` + long(2041) + `"}`}, false, "payload: 2049 characters"},
		{"payload of 2048", map[string]string{"payload": `{"k":"` + long(2040) + `"}`}, true, ""},
		{"option not JSON", map[string]string{"option": "push=false"}, false, "option: not a JSON object"},
		{"antispamCustom not JSON", map[string]string{"antispamCustom": "x"}, false, "antispamCustom: not a JSON object"},
		{"forcepushlist not an array", map[string]string{"forcepushlist": "bob"}, false, "forcepushlist: not a JSON array"},
		{"forcePushList of numbers", map[string]string{"forcePushList": "[1]"}, false, "forcepushlist: every element"},
		{"forcepushlist", map[string]string{"forcepushlist": `["bob"]`, "forcepushcontent": "hey"}, true, ""},
		{"forcepushcontent of 501", map[string]string{"forcepushcontent": long(501)}, false, "forcepushcontent: 501"},
	}
	h := newHarness(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := textForm()
			for k, v := range c.set {
				if v == "" {
					f.Del(k)
				} else {
					f.Set(k, v)
				}
			}
			before := len(h.inbox())
			a := h.v1("sendMsg.action", f)
			if c.ok {
				a.wantCode(t, v1, CodeOK, "")
				if len(h.inbox()) != before+1 {
					t.Fatal("accepted message not in the inbox")
				}
				return
			}
			a.wantCode(t, v1, CodeParam, c.desc)
			if len(h.inbox()) != before {
				t.Fatal("refused message in the inbox")
			}
		})
	}
}

func TestUnregistered(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Unregistered = []string{"ghost"} })
	f := textForm()
	f.Set("to", "ghost")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeNotFound, "to: account not registered")
	f = textForm()
	f.Set("from", "ghost")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeNotFound, "from: account not registered")
	// A team id is not an account.
	f = textForm()
	f.Set("ope", "1")
	f.Set("to", "ghost")
	h.v1("sendMsg.action", f).wantCode(t, v1, CodeOK, "")
}

func batchForm(to ...string) url.Values {
	b, _ := json.Marshal(append([]string{}, to...))
	return url.Values{
		"fromAccid": {"alice"},
		"toAccids":  {string(b)},
		"type":      {"0"},
		"body":      {`{"msg":"hello all"}`},
	}
}

func accids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%d", i)
	}
	return out
}

func TestSendBatchMsg(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Unregistered = []string{"ghost"} })

	f := batchForm("bob", "carol", "ghost", "bob")
	f.Set("returnMsgid", "true")
	a := h.v1("sendBatchMsg.action", f)
	a.wantCode(t, v1, CodeOK, "")
	wantKeys(t, a.json, "code", "unregister", "timetag", "msgids")
	if a.json.Get("unregister").Raw != `["ghost"]` || a.json.Get("timetag").Int() != t0.UnixMilli() {
		t.Fatalf("answer %s", a.body)
	}
	ids := a.json.Get("msgids")
	wantKeys(t, ids, "bob", "carol")
	in := h.inbox()
	if len(in) != 2 {
		t.Fatalf("inbox %+v", in)
	}
	for _, m := range in {
		if m.From != "alice" || m.Type != "0" || m.Target != "p2p" || m.ID != ids.Get(m.To[0]).Raw {
			t.Fatalf("inbox message %+v, msgids %s", m, ids.Raw)
		}
		if gjson.GetBytes(m.Body, "body.msg").Str != "hello all" {
			t.Fatalf("inbox body %s", m.Body)
		}
	}
	if ids.Get("bob").Int() == ids.Get("carol").Int() {
		t.Fatal("msgids not unique")
	}

	// Without returnMsgid there is no msgids; unregister is an empty array.
	a = h.v1("sendBatchMsg.action", batchForm("bob"))
	a.wantCode(t, v1, CodeOK, "")
	wantKeys(t, a.json, "code", "unregister", "timetag")
	if a.json.Get("unregister").Raw != "[]" {
		t.Fatalf("answer %s", a.body)
	}
}

func TestSendBatchMsgValidation(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name string
		f    url.Values
		ok   bool
		desc string
	}{
		{"500 receivers", batchForm(accids(500)...), true, ""},
		{"501 receivers", batchForm(accids(501)...), false, "toAccids: 501 accounts, at most 500"},
		{"100 receivers with returnMsgid", with(batchForm(accids(100)...), "returnMsgid", "true"), true, ""},
		{"101 receivers with returnMsgid", with(batchForm(accids(101)...), "returnMsgid", "true"), false, "at most 100"},
		{"empty toAccids", batchForm(), false, "toAccids: empty"},
		{"missing toAccids", with(batchForm("a"), "toAccids", ""), false, "toAccids: required"},
		{"toAccids not JSON", with(batchForm("a"), "toAccids", "a,b"), false, "toAccids: not a JSON array"},
		{"toAccids of numbers", with(batchForm("a"), "toAccids", "[1,2]"), false, "every element must be a string"},
		{"toAccids with a long accid", batchForm(strings.Repeat("a", 33)), false, "longer than 32"},
		{"missing fromAccid", with(batchForm("a"), "fromAccid", ""), false, "fromAccid: required"},
		{"bad type", with(batchForm("a"), "type", "7"), false, "type: must be one of"},
		{"bad body", with(batchForm("a"), "body", `{"msg":1}`), false, "body.msg: must be a string"},
		{"bad payload", with(batchForm("a"), "payload", "[]"), false, "payload: not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.v1("sendBatchMsg.action", c.f)
			if c.ok {
				a.wantCode(t, v1, CodeOK, "")
				return
			}
			a.wantCode(t, v1, CodeParam, c.desc)
		})
	}
}

func with(f url.Values, k, v string) url.Values {
	if v == "" {
		f.Del(k)
	} else {
		f.Set(k, v)
	}
	return f
}

// sendBatchMsg.action: 120 calls a minute per app; the call over it gets
// 416 and blocks the app for a minute.
func TestSendBatchMsgRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	for i := range DefaultBatchCallsPerMinute {
		if a := h.v1("sendBatchMsg.action", batchForm("bob")); a.json.Get("code").Int() != CodeOK {
			t.Fatalf("call %d: %s", i+1, a.body)
		}
	}
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeFreqControl, descFreq)
	// The minute window has passed but the block has not.
	h.clk.Advance(59 * 1e9)
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeFreqControl, descFreq)
	h.clk.Advance(1e9)
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeOK, "")
	// Single sends are not limited by it.
	h.v1("sendMsg.action", textForm()).wantCode(t, v1, CodeOK, "")
}

func TestSendBatchMsgRateLimitSettable(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BatchCallsPerMinute = 2 })
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeOK, "")
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeOK, "")
	h.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeFreqControl, descFreq)

	off := newHarness(t, func(c *Config) { c.BatchCallsPerMinute = -1 })
	for range 200 {
		off.v1("sendBatchMsg.action", batchForm("bob")).wantCode(t, v1, CodeOK, "")
	}
}
