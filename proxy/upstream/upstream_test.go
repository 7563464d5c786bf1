package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/netease"
	"github.com/imrelay/imrelay/sandbox/opapp"
	"github.com/imrelay/imrelay/sandbox/youdu"
	"github.com/imrelay/imrelay/sdk/abi"
)

// vendor is one emulator running on loopback for a test.
type vendor struct {
	core *emu.Core
	url  string
}

func start(t *testing.T, core *emu.Core, h fasthttp.RequestHandler) vendor {
	t.Helper()
	srv, err := emu.Start("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return vendor{core: core, url: srv.URL()}
}

func provider(t *testing.T, p *config.Provider, opt upstream.Options) *upstream.Provider {
	t.Helper()
	if p.Name == "" {
		p.Name = p.Dialect
	}
	// Fill the defaults the loader would.
	c := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{p.Name: p},
		Routes:    []config.Route{{Dialect: config.Getsender, Target: p.Name, Auth: config.Auth{Disabled: true}}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pr, err := upstream.New(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pr.Close)
	return pr
}

func deadline() time.Time { return time.Now().Add(10 * time.Second) }

func do(t *testing.T, p *upstream.Provider, r *upstream.Request) *upstream.Answer {
	t.Helper()
	var a upstream.Answer
	if err := p.Do(context.Background(), deadline(), r, &a); err != nil {
		t.Fatalf("Do: %v", err)
	}
	return &a
}

func TestNetEaseSignsEveryRequest(t *testing.T) {
	em, err := netease.New(netease.Config{AppKey: "ak1", AppSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	p := provider(t, &config.Provider{Dialect: config.Netease, BaseURL: v.url + "/nimserver",
		Credentials: config.Credentials{AppKey: "ak1", AppSecret: config.SecretValue("s3cret")}}, upstream.Options{})

	form := url.Values{"from": {"alice"}, "ope": {"0"}, "to": {"bob"}, "type": {"0"}, "body": {`{"msg":"hello"}`}}.Encode()
	for i := 0; i < 2; i++ { // a second call needs a fresh nonce and checksum
		a := do(t, p, &upstream.Request{Method: []byte("POST"), Path: []byte("/msg/sendMsg.action"),
			ContentType: []byte("application/x-www-form-urlencoded;charset=UTF-8"), Body: []byte(form)})
		if a.Status != 200 || !strings.Contains(string(a.Body), `"code":200`) {
			t.Fatalf("answer %d %s", a.Status, a.Body)
		}
	}
	msgs := v.core.Inbox.List(emu.Filter{})
	if len(msgs) != 2 || msgs[0].From != "alice" || msgs[0].To[0] != "bob" {
		t.Fatalf("inbox = %+v", msgs)
	}

	bad := provider(t, &config.Provider{Name: "bad", Dialect: config.Netease, BaseURL: v.url,
		Credentials: config.Credentials{AppKey: "ak1", AppSecret: config.SecretValue("wrong")}}, upstream.Options{})
	a := do(t, bad, &upstream.Request{Path: []byte("/msg/sendMsg.action"), ContentType: []byte("application/x-www-form-urlencoded"), Body: []byte(form)})
	if !strings.Contains(string(a.Body), `"code":414`) {
		t.Fatalf("a wrong secret must be refused by the vendor, got %s", a.Body)
	}
}

func easemobProvider(t *testing.T, v vendor, b *upstream.Broker) *upstream.Provider {
	return provider(t, &config.Provider{Dialect: config.Easemob, BaseURL: v.url, Credentials: config.Credentials{
		Org: easemob.DemoOrg, App: easemob.DemoApp, ClientID: easemob.DemoClientID, ClientSecret: config.SecretValue(easemob.DemoClientSecret),
	}}, upstream.Options{Broker: b})
}

func easemobText(to string) *upstream.Request {
	return &upstream.Request{Method: []byte("POST"), Path: []byte("/" + easemob.DemoOrg + "/" + easemob.DemoApp + "/messages/users"),
		ContentType: []byte("application/json"), Body: []byte(`{"from":"alice","to":["` + to + `"],"type":"txt","body":{"msg":"hi"}}`)}
}

// TestEasemobBurstMakesOneTokenCall sends a burst of concurrent requests
// with no token cached: exactly one token call may be made.
func TestEasemobBurstMakesOneTokenCall(t *testing.T) {
	em, err := easemob.New(easemob.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	b := upstream.NewBroker(upstream.BrokerConfig{})
	p := easemobProvider(t, v, b)

	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a upstream.Answer
			if err := p.Do(context.Background(), deadline(), easemobText("bob"), &a); err != nil {
				errs <- err
			} else if a.Status != 200 {
				errs <- errors.New(string(a.Body))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := b.Stats(); s.Fetches != 1 {
		t.Errorf("token calls = %d, want 1", s.Fetches)
	}
	if got := len(v.core.Inbox.List(emu.Filter{To: "bob"})); got != n {
		t.Errorf("inbox has %d messages, want %d", got, n)
	}
}

// TestEasemobExpiredTokenRetriedOnce forces the vendor to answer 401 once:
// the token is dropped, a new one fetched and the message sent once.
func TestEasemobExpiredTokenRetriedOnce(t *testing.T) {
	em, err := easemob.New(easemob.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	b := upstream.NewBroker(upstream.BrokerConfig{})
	p := easemobProvider(t, v, b)
	do(t, p, easemobText("warm"))

	if err := v.core.Faults.Set(emu.Faults{ExpireTokens: 1}); err != nil {
		t.Fatal(err)
	}
	a := do(t, p, easemobText("carol"))
	if a.Status != 200 {
		t.Fatalf("answer %d %s", a.Status, a.Body)
	}
	s := b.Stats()
	if s.Drops != 1 || s.Fetches != 2 {
		t.Errorf("stats = %+v, want one drop and a second token call", s)
	}
	if got := len(v.core.Inbox.List(emu.Filter{To: "carol"})); got != 1 {
		t.Errorf("carol got %d messages, want exactly 1", got)
	}

	// Two expiries in a row: the retry is made once, then the 401 is the
	// answer the codec sees.
	if err := v.core.Faults.Set(emu.Faults{ExpireTokens: 2}); err != nil {
		t.Fatal(err)
	}
	a = do(t, p, easemobText("dave"))
	if a.Status != 401 {
		t.Fatalf("status = %d, want the vendor's 401 after one retry", a.Status)
	}
	if got := len(v.core.Inbox.List(emu.Filter{To: "dave"})); got != 0 {
		t.Errorf("dave got %d messages", got)
	}
}

func TestEasemobBadSecretIsNotSent(t *testing.T) {
	em, err := easemob.New(easemob.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	p := provider(t, &config.Provider{Dialect: config.Easemob, BaseURL: v.url, Credentials: config.Credentials{
		Org: easemob.DemoOrg, App: easemob.DemoApp, ClientID: easemob.DemoClientID, ClientSecret: config.SecretValue("nope"),
	}}, upstream.Options{})
	var a upstream.Answer
	err = p.Do(context.Background(), deadline(), easemobText("bob"), &a)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != abi.CodeNotSent || !errors.Is(err, upstream.ErrToken) {
		t.Fatalf("err = %v, want a not-sent token error", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

const youduKey = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
const youduApp = "yd37D192E9F20E448192827A001A84D443"

func TestYouduEnvelopeAndToken(t *testing.T) {
	em, err := youdu.New(youdu.Config{Buin: 666666, Apps: []youdu.App{{ID: youduApp, EncodingAESKey: youduKey}}})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	b := upstream.NewBroker(upstream.BrokerConfig{})
	p := provider(t, &config.Provider{Dialect: config.Youdu, BaseURL: v.url, Credentials: config.Credentials{
		Buin: 666666, AppID: youduApp, AESKey: config.SecretValue(youduKey),
	}}, upstream.Options{Broker: b})
	msg := &upstream.Request{Method: []byte("POST"), Path: []byte("/cgi/msg/send"), ContentType: []byte("application/json"),
		Body: []byte(`{"toUser":"alice|bob","msgType":"text","text":{"content":"hello"}}`)}
	a := do(t, p, msg)
	if a.Status != 200 || !strings.Contains(string(a.Body), `"errcode":0`) {
		t.Fatalf("answer %d %s", a.Status, a.Body)
	}
	got := v.core.Inbox.List(emu.Filter{To: "bob"})
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "hello") {
		t.Fatalf("inbox = %+v", got)
	}

	if err := v.core.Faults.Set(emu.Faults{ExpireTokens: 1}); err != nil {
		t.Fatal(err)
	}
	a = do(t, p, msg)
	if !strings.Contains(string(a.Body), `"errcode":0`) {
		t.Fatalf("after a forced expiry: %s", a.Body)
	}
	if s := b.Stats(); s.Drops != 1 || s.Fetches != 2 {
		t.Errorf("stats = %+v", s)
	}
	if n := len(v.core.Inbox.List(emu.Filter{To: "bob"})); n != 2 {
		t.Errorf("bob has %d messages, want 2 (one per send, none duplicated)", n)
	}
}

func TestQueryCredentials(t *testing.T) {
	gs, err := getsender.New(getsender.Config{})
	if err != nil {
		t.Fatal(err)
	}
	op, err := opapp.New(opapp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gv := start(t, gs.Core(), gs.Handler())
	ov := start(t, op.Core(), op.Handler())
	gp := provider(t, &config.Provider{Dialect: config.Getsender, BaseURL: gv.url, Credentials: config.Credentials{
		Client: getsender.DemoClient, Token: config.SecretValue(getsender.DemoToken), Query: map[string]string{"apiVersion": "01"}}}, upstream.Options{})
	a := do(t, gp, &upstream.Request{Path: []byte(getsender.Path), ContentType: []byte("application/json"),
		Body: []byte(`{"messageType":1,"from":"op1","userId":"u1","isDisturb":false,"messageInfo":{"msg":"hello"}}`)})
	if !strings.Contains(string(a.Body), `"code":200`) {
		t.Fatalf("getsender: %s", a.Body)
	}
	op1 := provider(t, &config.Provider{Dialect: config.Opapp, BaseURL: ov.url, Credentials: config.Credentials{
		Client: opapp.DemoClient, Token: config.SecretValue(opapp.DemoChannel), Query: map[string]string{"apiVersion": "01", "version": "1.15"}}}, upstream.Options{})
	a = do(t, op1, &upstream.Request{Path: []byte(opapp.Path), ContentType: []byte("application/json"),
		Body: []byte(`{"reqUrl":"/x","messages":[{"msgType":"txt","msgBody":{"fromUser":"op1","toUser":"u1","msgType":"txt","msg":"hello","targetType":"users"}}]}`)})
	if !strings.Contains(string(a.Body), `"code":200`) {
		t.Fatalf("opapp: %s", a.Body)
	}
}

// TestRefusedConnectionRetriedOnceThenNotSent: a refused connection never
// carried the request, so it is tried once more and then reported not sent.
func TestRefusedConnectionRetriedOnceThenNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	var dials atomic.Int32
	p := provider(t, &config.Provider{Dialect: config.Getsender, BaseURL: "http://" + addr, Credentials: config.Credentials{
		Client: "c", Token: config.SecretValue("t")}}, upstream.Options{Dial: func(a string, d time.Duration) (net.Conn, error) {
		dials.Add(1)
		return fasthttp.DialTimeout(a, d)
	}})
	var a upstream.Answer
	err = p.Do(context.Background(), deadline(), &upstream.Request{Path: []byte("/x"), Body: []byte("{}")}, &a)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != abi.CodeNotSent {
		t.Fatalf("err = %v, want CodeNotSent", err)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("dials = %d, want 2 (one retry)", n)
	}
	if ge := ue.GuestError(); ge.Code != abi.CodeNotSent || strings.Contains(ge.Message, addr) {
		t.Errorf("guest error = %+v", ge)
	}
}

// TestDroppedConnectionIsDeliveryUnknown: the vendor read the request and
// hung up; it may have acted on it, so it is not retried.
func TestDroppedConnectionIsDeliveryUnknown(t *testing.T) {
	gs, err := getsender.New(getsender.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, gs.Core(), gs.Handler())
	if err := v.core.Faults.Set(emu.Faults{DropRate: 1}); err != nil {
		t.Fatal(err)
	}
	p := provider(t, &config.Provider{Dialect: config.Getsender, BaseURL: v.url, Credentials: config.Credentials{
		Client: getsender.DemoClient, Token: config.SecretValue(getsender.DemoToken)}}, upstream.Options{})
	var a upstream.Answer
	err = p.Do(context.Background(), deadline(), &upstream.Request{Path: []byte(getsender.Path), Body: []byte("{}")}, &a)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != abi.CodeTimeout {
		t.Fatalf("err = %v, want CodeTimeout (delivery unknown)", err)
	}
	if n := v.core.Faults.Stats().Dropped; n != 1 {
		t.Errorf("the vendor saw %d calls, want 1: a possibly delivered request must not be resent", n)
	}
}

func TestSlowVendorTimesOut(t *testing.T) {
	gs, err := getsender.New(getsender.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, gs.Core(), gs.Handler())
	if err := v.core.Faults.Set(emu.Faults{Latency: emu.Duration(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	p := provider(t, &config.Provider{Dialect: config.Getsender, BaseURL: v.url, ReadTimeout: 100 * time.Millisecond,
		Credentials: config.Credentials{Client: getsender.DemoClient, Token: config.SecretValue(getsender.DemoToken)}}, upstream.Options{})
	var a upstream.Answer
	err = p.Do(context.Background(), deadline(), &upstream.Request{Path: []byte(getsender.Path), Body: []byte("{}")}, &a)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != abi.CodeTimeout {
		t.Fatalf("err = %v, want CodeTimeout", err)
	}
}

// TestYouduAnswerDecrypted checks that an encrypt field in a Youdu answer
// reaches the codec as plaintext JSON.
func TestYouduAnswerDecrypted(t *testing.T) {
	key, app := youduKey, youduApp
	srv, err := emu.Start("127.0.0.1:0", func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/cgi/gettoken":
			ctx.SetBodyString(`{"errcode":0,"errmsg":"ok","encrypt":"` + encrypt(t, key, app, `{"accessToken":"tok1","expireIn":7200}`) + `"}`)
		default:
			if string(ctx.QueryArgs().Peek("accessToken")) != "tok1" {
				ctx.SetBodyString(`{"errcode":100001,"errmsg":"token not exist"}`)
				return
			}
			ctx.SetBodyString(`{"errcode":0,"errmsg":"ok","encrypt":"` + encrypt(t, key, app, `{"mediaId":"m1"}`) + `"}`)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	p := provider(t, &config.Provider{Dialect: config.Youdu, BaseURL: srv.URL(), Credentials: config.Credentials{
		Buin: 1, AppID: app, AESKey: config.SecretValue(key)}}, upstream.Options{})
	a := do(t, p, &upstream.Request{Path: []byte("/cgi/media/search"), Body: []byte(`{"mediaId":"m1"}`)})
	var got struct {
		ErrCode int `json:"errcode"`
		Encrypt struct {
			MediaID string `json:"mediaId"`
		} `json:"encrypt"`
	}
	if err := json.Unmarshal(a.Body, &got); err != nil || got.Encrypt.MediaID != "m1" {
		t.Fatalf("answer %s (%v)", a.Body, err)
	}
}

func encrypt(t *testing.T, key, app, msg string) string {
	t.Helper()
	c, err := auth.NewYouduCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Encrypt([]byte(msg), app)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
