package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/netease"
)

const (
	testKey    = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	testSecret = "c3b5a4e2f1d0"
)

var testCfg = config{AppKey: testKey, AppSecret: testSecret, Client: "c1", Token: "t1", Sender: "relaybot"}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]byte(`{"appKey":"k","appSecret":"s","client":"c","token":"t","sender":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c != (config{AppKey: "k", AppSecret: "s", Client: "c", Token: "t", Sender: "x"}) {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{``, `{`, `{"appKey":"k","appSecret":"s","client":"c","token":"t"}`, `{"appKey":"k","appSecret":"s","token":"t","sender":"x"}`} {
		if _, err := parseConfig([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAuthorized(t *testing.T) {
	for _, c := range []struct {
		method, uri string
		want        bool
	}{
		{"POST", "/sender/v1/handleBusinessMessage?apiVersion=01&client=c1&token=t1&sign=any", true},
		{"POST", "/x?token=t1&client=c1", true},
		{"GET", "/x?client=c1&token=t1", false},
		{"POST", "/x?client=c1&token=t2", false},
		{"POST", "/x?client=c2&token=t1", false},
		{"POST", "/x?client=c1", false},
		{"POST", "/x", false},
		{"POST", "/x?client=c1&token=t1%zz", false},
	} {
		if got := testCfg.authorized(c.method, c.uri); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.uri, got, c.want)
		}
	}
	empty := config{}
	if empty.authorized("POST", "/x?client=&token=") {
		t.Error("an unconfigured guest lets requests through")
	}
}

// TestTranslateRequest checks the guest sends what imrelay's codecs send
// for the same message: the getsender-netease-text pair's golden file.
func TestTranslateRequest(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/pairs/getsender-netease-text.golden")
	if err != nil {
		t.Fatal(err)
	}
	uri, body, answer := testCfg.translateRequest([]byte(`{"messageType":1,"from":"alice","userId":"bob","isDisturb":false,"messageInfo":{"msg":"hello 你好"}}`), time.Now())
	if answer != nil {
		t.Fatalf("answered %s", answer)
	}
	if !strings.Contains(string(golden), "POST "+uri+"\n") {
		t.Errorf("uri %s is not the codec's:\n%s", uri, golden)
	}
	var got, want map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	_, rest, _ := strings.Cut(string(golden), "\n{")
	if err := json.Unmarshal([]byte("{"+rest), &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "extension") // the golden case carries a chat id the benchmark's message has not
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("body %s, codec sends %s", gb, wb)
	}

	// No from: the configured sender; characters JSON must escape survive.
	uri, body, answer = testCfg.translateRequest([]byte(`{"messageType":1,"userId":"b/ob","messageInfo":{"msg":"a \"quoted\"\nline"}}`), time.Now())
	if answer != nil {
		t.Fatalf("answered %s", answer)
	}
	if want := "/nimserver/im/v2/conversations/relaybot%7C1%7Cb%2Fob/messages"; uri != want {
		t.Errorf("uri %s, want %s", uri, want)
	}
	if got := gjson.GetBytes(body, "message.text").String(); got != "a \"quoted\"\nline" {
		t.Errorf("text %q in %s", got, body)
	}

	for _, c := range []struct{ body, message string }{
		{`{"messageType":1,`, "bad json"},
		{`{"messageType":2,"userId":"bob","messageInfo":{"msg":"x"}}`, "want a text message"},
		{`{"messageType":1,"messageInfo":{"msg":"x"}}`, "want a text message"},
		{`{"messageType":1,"userId":"bob","messageInfo":{}}`, "want a text message"},
	} {
		uri, body, answer := testCfg.translateRequest([]byte(c.body), time.Now())
		if uri != "" || body != nil || gjson.GetBytes(answer, "code").Int() != 400 || gjson.GetBytes(answer, "message").String() != c.message {
			t.Errorf("%s: uri %q body %s answer %s", c.body, uri, body, answer)
		}
	}
}

func TestSignature(t *testing.T) {
	now := time.Unix(1447856372, 0)
	h := testCfg.signature("n0nce", now)
	want := [4][2]string{{"AppKey", testKey}, {"Nonce", "n0nce"}, {"CurTime", "1447856372"}, {"CheckSum", auth.CheckSum(testSecret, "n0nce", "1447856372")}}
	if h != want {
		t.Errorf("headers %v, want %v", h, want)
	}
}

func TestTranslateResponse(t *testing.T) {
	now := time.Unix(1447856372, 0)
	// The same answer the Go peer gives (bench TestNativeTranslation).
	got := translateResponse([]byte(`{"code":200,"msg":"","data":{"message_server_id":42}}`), now)
	if want := `{"code":200,"message":"成功","data":{"getMessageId":"42"},"page":null,"foot":{"operationTime":"2015-11-18 22:19:32","servicePhone":"","host":"imrelay"}}`; string(got) != want {
		t.Errorf("answer %s, want %s", got, want)
	}
	got = translateResponse([]byte(`{"code":414,"msg":"bad <param>"}`), now)
	if want := `{"code":414,"message":"bad \u003cparam\u003e","data":null,"page":null,"foot":{"operationTime":"2015-11-18 22:19:32","servicePhone":"","host":"imrelay"}}`; string(got) != want {
		t.Errorf("answer %s, want %s", got, want)
	}
	if got := translateResponse([]byte(`<html>`), now); gjson.GetBytes(got, "code").Int() != 502 {
		t.Errorf("answer to a non-JSON body %s", got)
	}
	for _, b := range [][]byte{got, answerJSON(401, "unauthorized", "", now)} {
		if !json.Valid(b) {
			t.Errorf("invalid JSON %s", b)
		}
	}
}

// TestAgainstEmulator sends the translated, signed request to the NetEase
// emulator and translates its answer back: the round trip the plugin does
// inside Traefik, without Traefik.
func TestAgainstEmulator(t *testing.T) {
	e, err := netease.New(netease.Config{AppKey: testKey, AppSecret: testSecret, Emu: emu.Config{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	srv := emu.StartInMemory(e.Handler())
	defer srv.Close()
	cli := srv.Client()

	for _, secret := range []string{testSecret, "wrong"} {
		cfg := testCfg
		cfg.AppSecret = secret
		now := time.Now()
		uri, body, answer := cfg.translateRequest([]byte(`{"messageType":1,"from":"alice","userId":"bob","messageInfo":{"msg":"hello"}}`), now)
		if answer != nil {
			t.Fatalf("answered %s", answer)
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://netease" + uri)
		req.Header.SetMethod("POST")
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		for _, h := range cfg.signature("abcdef0123456789", now) {
			req.Header.Set(h[0], h[1])
		}
		req.SetBody(body)
		if err := cli.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		a := translateResponse(resp.Body(), now)
		code, id := gjson.GetBytes(a, "code").Int(), gjson.GetBytes(a, "data.getMessageId").String()
		if secret == testSecret && (code != 200 || id == "" || id == "0") {
			t.Errorf("signed with the right secret: emulator said %s, answer %s", resp.Body(), a)
		}
		if secret != testSecret && (code == 200 || id != "") {
			t.Errorf("signed with a wrong secret: emulator said %s, answer %s", resp.Body(), a)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}
