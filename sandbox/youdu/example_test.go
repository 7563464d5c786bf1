package youdu_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/youdu"
)

// A client's full round: gettoken, then an encrypted text message.
func Example() {
	const (
		appID = "yd37D192E9F20E448192827A001A84D443"
		key   = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
	)
	clock := emu.NewManualClock(time.Unix(1700000000, 0))
	e, err := youdu.New(youdu.Config{
		Buin: 666666,
		Apps: []youdu.App{{ID: appID, EncodingAESKey: key}},
		Emu:  emu.Config{Now: clock.Now},
	})
	if err != nil {
		panic(err)
	}
	srv := emu.StartInMemory(e.Handler())
	defer srv.Close()
	cli := srv.Client()
	c, _ := auth.NewYouduCipher(key)

	post := func(uri, payload string) gjson.Result {
		enc, _ := c.Encrypt([]byte(payload), appID)
		body, _ := json.Marshal(map[string]any{"buin": 666666, "appId": appID, "encrypt": enc})
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI("http://youdu.test:7080" + uri)
		req.SetBody(body)
		if err := cli.Do(req, resp); err != nil {
			panic(err)
		}
		return gjson.ParseBytes(resp.Body())
	}

	ans := post("/cgi/gettoken", strconv.FormatInt(clock.Now().Unix(), 10))
	msg, _, _ := c.Decrypt(ans.Get("encrypt").Str)
	token := gjson.GetBytes(msg, "accessToken").Str
	fmt.Println(ans.Get("errcode"), gjson.GetBytes(msg, "expireIn"))

	ans = post("/cgi/msg/send?accessToken="+token,
		`{"toUser":"alice|bob","msgType":"text","text":{"content":"hello"}}`)
	fmt.Println(ans.Raw)

	m := e.Core().Inbox.List(emu.Filter{To: "bob"})[0]
	fmt.Println(m.From == appID, m.To, m.Type, gjson.GetBytes(m.Body, "text.content"))
	// Output:
	// 0 7200
	// {"errcode":0,"errmsg":"ok"}
	// true [alice bob] text hello
}
