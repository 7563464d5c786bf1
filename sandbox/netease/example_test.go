package netease_test

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/netease"
)

// A signed v1 send, then a look at the inbox.
func Example() {
	clock := emu.NewManualClock(time.Unix(1700000000, 0))
	e, err := netease.New(netease.Config{
		AppKey: "demo-app-key", AppSecret: "demo-secret",
		Emu: emu.Config{Now: clock.Now},
	})
	if err != nil {
		panic(err)
	}
	srv := emu.StartInMemory(e.Handler())
	defer srv.Close()

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://netease.test/nimserver/msg/sendMsg.action")
	req.Header.SetContentType("application/x-www-form-urlencoded;charset=UTF-8")
	req.SetBodyString(url.Values{
		"from": {"alice"}, "ope": {"0"}, "to": {"bob"}, "type": {"0"}, "body": {`{"msg":"hello"}`},
	}.Encode())
	curTime := strconv.FormatInt(clock.Now().Unix(), 10)
	req.Header.Set("AppKey", "demo-app-key")
	req.Header.Set("Nonce", "4f3c2a1b")
	req.Header.Set("CurTime", curTime)
	req.Header.Set("CheckSum", auth.CheckSum("demo-secret", "4f3c2a1b", curTime))
	if err := srv.Client().Do(req, resp); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode())

	m := e.Core().Inbox.List(emu.Filter{To: "bob"})[0]
	fmt.Println(m.From, m.To, m.Target, m.Type)
	// Output:
	// 200
	// alice [bob] p2p 0
}
