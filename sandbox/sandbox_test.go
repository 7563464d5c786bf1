package sandbox

import (
	"crypto/sha1"
	"encoding/hex"
	stdjson "encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/opapp"
)

func post(t *testing.T, v *Vendor, uri string, hdr map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(v.URL + uri)
	for k, val := range hdr {
		req.Header.Set(k, val)
	}
	req.SetBodyString(body)
	if err := v.Server.Client().DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", v.Name, uri, err)
	}
	var m map[string]any
	_ = stdjson.Unmarshal(resp.Body(), &m)
	return resp.StatusCode(), m
}

// TestStartAll starts every vendor on loopback and sends one message to
// each, checking it lands in that vendor's inbox.
func TestStartAll(t *testing.T) {
	sb, err := Start(Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Stop(); err != nil {
			t.Error(err)
		}
	})
	if len(sb.Vendors) != len(Names) {
		t.Fatalf("%d vendors", len(sb.Vendors))
	}
	for _, v := range sb.Vendors {
		if !strings.HasPrefix(v.Addr, "127.0.0.1:") || v.Example == "" || v.Info == nil {
			t.Errorf("%+v", v)
		}
	}
	json := map[string]string{"Content-Type": "application/json"}

	em := sb.Vendor(Easemob)
	_, tok := post(t, em, "/imrelay/demo/token", json, `{"grant_type":"client_credentials","client_id":"`+
		easemob.DemoClientID+`","client_secret":"`+easemob.DemoClientSecret+`","ttl":""}`)
	st, _ := post(t, em, "/imrelay/demo/messages/users", map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)},
		`{"to":["bob"],"type":"txt","body":{"msg":"hi"}}`)
	if st != 200 || len(em.Core.Inbox.List(emu.Filter{To: "bob"})) != 1 {
		t.Errorf("easemob: %d", st)
	}

	ne := sb.Vendor(NetEase)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha1.Sum([]byte(DemoNetEaseAppSecret + "n1" + now))
	st, m := post(t, ne, "/nimserver/msg/sendMsg.action", map[string]string{
		"AppKey": DemoNetEaseAppKey, "Nonce": "n1", "CurTime": now, "CheckSum": hex.EncodeToString(sum[:]),
		"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
	}, `from=alice&ope=0&to=bob&type=0&body=%7B%22msg%22%3A%22hi%22%7D`)
	if st != 200 || m["code"] != float64(200) || len(ne.Core.Inbox.List(emu.Filter{To: "bob"})) != 1 {
		t.Errorf("netease: %d %v", st, m)
	}

	yd := sb.Vendor(Youdu)
	c, err := auth.NewYouduCipher(DemoYouduKey)
	if err != nil {
		t.Fatal(err)
	}
	envelope := func(payload string) string {
		enc, err := c.Encrypt([]byte(payload), DemoYouduApp)
		if err != nil {
			t.Fatal(err)
		}
		return `{"buin":` + strconv.Itoa(DemoYouduBuin) + `,"appId":"` + DemoYouduApp + `","encrypt":"` + enc + `"}`
	}
	_, m = post(t, yd, "/cgi/gettoken", json, envelope(now))
	plain, _, err := c.Decrypt(m["encrypt"].(string))
	if err != nil || m["errcode"] != float64(0) {
		t.Fatalf("youdu gettoken: %v %v", m, err)
	}
	var tk struct{ AccessToken string }
	if err := stdjson.Unmarshal(plain, &tk); err != nil {
		t.Fatal(err)
	}
	_, m = post(t, yd, "/cgi/msg/send?accessToken="+tk.AccessToken, json,
		envelope(`{"toUser":"bob","msgType":"text","text":{"content":"hi"}}`))
	if m["errcode"] != float64(0) || len(yd.Core.Inbox.List(emu.Filter{To: "bob"})) != 1 {
		t.Errorf("youdu: %v", m)
	}

	gs := sb.Vendor(GetSender)
	_, m = post(t, gs, getsender.Path+"?client="+getsender.DemoClient+"&token="+getsender.DemoToken, json,
		`{"messageType":1,"from":"op","userId":"bob","isDisturb":false,"messageInfo":{}}`)
	if m["code"] != float64(200) || len(gs.Core.Inbox.List(emu.Filter{To: "bob"})) != 1 {
		t.Errorf("getsender: %v", m)
	}

	op := sb.Vendor(OpApp)
	_, m = post(t, op, opapp.Path+"?client="+opapp.DemoClient+"&channel="+opapp.DemoChannel, json,
		`{"reqUrl":"/x","messages":[{"msgType":"txt","msgBody":{"fromUser":"op","toUser":"bob","msgType":"txt","msg":"hi"}}]}`)
	if m["code"] != float64(200) || len(op.Core.Inbox.List(emu.Filter{To: "bob"})) != 1 {
		t.Errorf("opapp: %v", m)
	}

	// Every vendor serves the admin surface.
	for _, v := range sb.Vendors {
		code, body, err := v.Server.Client().Get(nil, v.URL+emu.Prefix+"inbox?to=bob")
		if err != nil || code != 200 || !strings.Contains(string(body), `"count":1`) {
			t.Errorf("%s inbox: %d %s %v", v.Name, code, body, err)
		}
	}
}

func TestStartInMemoryAndPorts(t *testing.T) {
	sb, err := Start(Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := sb.Vendor(OpApp).Server.Client().Get(nil, "http://opapp"+emu.Prefix+"info")
	if err != nil || code != 200 || !strings.Contains(string(body), opapp.DemoChannel) {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if err := sb.Stop(); err != nil {
		t.Fatal(err)
	}
	if sb.Vendor("nobody") != nil {
		t.Fatal("unknown vendor found")
	}

	for _, bad := range []map[string]int{{"nobody": 1}, {Easemob: -1}, {Easemob: 70000}} {
		if _, err := Start(Config{Ports: bad}); err == nil || !strings.HasPrefix(err.Error(), "sandbox: bad config") {
			t.Errorf("%v: %v", bad, err)
		}
	}
	// A taken port fails the start and stops what had started.
	first, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()
	_, port, _ := strings.Cut(first.Vendor(GetSender).Addr, ":")
	p, _ := strconv.Atoi(port)
	if _, err := Start(Config{Ports: map[string]int{GetSender: p}}); err == nil || !strings.Contains(err.Error(), "getsender") {
		t.Fatalf("taken port: %v", err)
	}
}
