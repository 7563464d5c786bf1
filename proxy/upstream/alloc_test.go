package upstream

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
)

// quietVendor answers each dialect's calls with fixed successes and
// allocates nothing on the message path, so the allocation counters
// (process-wide) measure only the provider.
func quietVendor(tb testing.TB, key, app string) string {
	tb.Helper()
	c, err := auth.NewYouduCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	enc, _ := c.Encrypt([]byte(`{"accessToken":"tok","expireIn":7200}`), app)
	youduToken, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "encrypt": enc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/cgi/gettoken":
			ctx.SetBody(youduToken)
		case "/org/app/token":
			ctx.SetBodyString(`{"access_token":"tok","expires_in":7200}`)
		default:
			ctx.SetBodyString(`{"code":200,"errcode":0}`)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestDoAllocs: once warm, sending with each dialect's credentials (NetEase
// checksum, Youdu envelope and token, Easemob token, query credentials)
// allocates nothing.
func TestDoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const key, app = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ=", "ydapp"
	url := quietVendor(t, key, app)
	broker := NewBroker(BrokerConfig{})
	for _, p := range []*config.Provider{
		{Name: "ne", Dialect: config.Netease, Credentials: config.Credentials{AppKey: "k", AppSecret: config.SecretValue("s")}},
		{Name: "yd", Dialect: config.Youdu, Credentials: config.Credentials{Buin: 1, AppID: app, AESKey: config.SecretValue(key)}},
		{Name: "em", Dialect: config.Easemob, Credentials: config.Credentials{Org: "org", App: "app", ClientID: "c", ClientSecret: config.SecretValue("s")}},
		{Name: "gs", Dialect: config.Getsender, Credentials: config.Credentials{Client: "c", Token: config.SecretValue("t")}},
	} {
		t.Run(p.Dialect, func(t *testing.T) {
			p.BaseURL, p.MaxConns, p.Concurrency = url, 4, 4
			p.ConnectTimeout, p.ReadTimeout, p.WriteTimeout = time.Second, 5*time.Second, 5*time.Second
			pr, err := New(p, Options{Broker: broker})
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			req := &Request{Method: []byte("POST"), Path: []byte("/send"), Query: []byte("a=1"), ContentType: []byte("application/json"), Body: []byte(`{"text":"hello"}`)}
			var a Answer
			ctx := context.Background()
			run := func() {
				if err := pr.Do(ctx, time.Now().Add(5*time.Second), req, &a); err != nil || a.Status != 200 {
					t.Fatalf("Do: %v %d %s", err, a.Status, a.Body)
				}
			}
			for i := 0; i < 20; i++ {
				run()
			}
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Errorf("Do allocates %.1f times", n)
			}
		})
	}
}
