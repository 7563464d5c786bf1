package emu_test

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// A tiny vendor built on the core: it records each call's "to" query
// argument and answers the message id; the admin surface comes for free.
func Example() {
	clock := emu.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	core := emu.New(emu.Config{Vendor: "demo", Seed: 1, Now: clock.Now})
	api := func(ctx *fasthttp.RequestCtx) {
		m := core.Inbox.Add(emu.Message{
			Vendor: "demo", Path: string(ctx.Path()), From: "admin",
			To: []string{string(ctx.QueryArgs().Peek("to"))}, Type: "text", ID: core.NewIDString(),
		})
		emu.WriteJSON(ctx, 200, map[string]string{"id": m.ID})
	}
	srv := emu.StartInMemory(core.Handler(api, emu.Answers{}, nil))
	defer srv.Close()
	cli := srv.Client()

	_, body, _ := cli.Post(nil, "http://demo/send?to=alice", nil)
	fmt.Println(string(body))
	_, body, _ = cli.Get(nil, "http://demo/_sandbox/inbox?to=alice")
	fmt.Println(string(body))

	// Faults are set at run time, here directly rather than over PUT.
	_ = core.Faults.Set(emu.Faults{RateLimit: 1})
	code, _, _ := cli.Post(nil, "http://demo/send?to=bob", nil) // takes the one call
	code2, _, _ := cli.Post(nil, "http://demo/send?to=bob", nil)
	fmt.Println(code, code2)
	// Output:
	// {"id":"7301571910041600000"}
	// {"vendor":"demo","count":1,"dropped":0,"messages":[{"seq":1,"time":"2025-03-01T12:00:00Z","vendor":"demo","path":"/send","from":"admin","to":["alice"],"type":"text","body":null,"id":"7301571910041600000"}]}
	// 200 429
}
