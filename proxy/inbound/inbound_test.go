package inbound

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sdk/abi"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func request(method, uri string, headers map[string]string, body string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for k, v := range headers {
		ctx.Request.Header.Set(k, v)
	}
	ctx.Request.SetBodyString(body)
	return ctx
}

func verifier(t *testing.T, dialect string, a config.Auth, clk *clock) *Verifier {
	t.Helper()
	if a.IssuedTokenTTL == 0 {
		a.IssuedTokenTTL = time.Hour
	}
	v, err := New(dialect, &a, Options{Scope: "r1", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNetease(t *testing.T) {
	clk := newClock()
	v := verifier(t, config.Netease, config.Auth{Credentials: config.Credentials{AppKey: "ak", AppSecret: config.SecretValue("sec")}}, clk)
	signed := func(secret string, curTime int64) map[string]string {
		ct := strconv.FormatInt(curTime, 10)
		return map[string]string{"AppKey": "ak", "Nonce": "n1", "CurTime": ct, "CheckSum": auth.CheckSum(secret, "n1", ct)}
	}
	now := clk.Now().Unix()
	cases := []struct {
		name    string
		headers map[string]string
		want    *abi.GuestError
	}{
		{"good", signed("sec", now), nil},
		{"wrong secret", signed("other", now), ErrNeteaseCheckSum},
		{"stale", signed("sec", now-301), ErrNeteaseCurTime},
		{"missing", map[string]string{"AppKey": "ak"}, ErrNeteaseHeaders},
		{"unknown app key", map[string]string{"AppKey": "zz", "Nonce": "n", "CurTime": "1", "CheckSum": "x"}, ErrNeteaseAppKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := v.Verify(request("POST", "/im/v2/conversations/a%7C1%7Cb/messages", tc.headers, `{"x":1}`), nil)
			if err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && string(body) != `{"x":1}` {
				t.Errorf("body = %s", body)
			}
		})
	}
}

func easemobAuth() config.Auth {
	return config.Auth{Credentials: config.Credentials{Org: "acme", App: "chat", ClientID: "cid", ClientSecret: config.SecretValue("csecret")}}
}

func TestEasemobTokenAndBearer(t *testing.T) {
	clk := newClock()
	v := verifier(t, config.Easemob, easemobAuth(), clk)
	if v.TokenPath() != "/acme/chat/token" {
		t.Fatalf("token path = %s", v.TokenPath())
	}
	ctx := request("POST", "/acme/chat/token", nil, `{"grant_type":"client_credentials","client_id":"cid","client_secret":"csecret"}`)
	v.ServeToken(ctx)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &tok); err != nil || ctx.Response.StatusCode() != 200 || len(tok.AccessToken) != TokenLen || tok.ExpiresIn != 3600 {
		t.Fatalf("token answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	send := func(authz string) *abi.GuestError {
		h := map[string]string{}
		if authz != "" {
			h["Authorization"] = authz
		}
		_, err := v.Verify(request("POST", "/acme/chat/messages/users", h, "{}"), nil)
		return err
	}
	if err := send("Bearer " + tok.AccessToken); err != nil {
		t.Fatalf("issued token refused: %v", err)
	}
	if err := send(""); err != ErrBearerMissing {
		t.Errorf("no token: %v", err)
	}
	if err := send("Basic abc"); err != ErrBearerCorrupt {
		t.Errorf("not bearer: %v", err)
	}
	forged := []byte(tok.AccessToken)
	forged[40] ^= 1 // flip a MAC character
	if err := send("Bearer " + string(forged)); err != ErrBearerCorrupt {
		t.Errorf("forged token: %v", err)
	}
	other := verifier(t, config.Easemob, easemobAuth(), clk)
	if _, err := other.Verify(request("POST", "/", map[string]string{"Authorization": "Bearer " + tok.AccessToken}, ""), nil); err != ErrBearerCorrupt {
		t.Errorf("a token from another relay key was accepted: %v", err)
	}
	clk.Add(time.Hour)
	if err := send("Bearer " + tok.AccessToken); err != ErrBearerExpired {
		t.Errorf("expired token: %v", err)
	}
}

func TestEasemobTokenErrors(t *testing.T) {
	v := verifier(t, config.Easemob, easemobAuth(), newClock())
	for body, want := range map[string]string{
		`{"grant_type":"client_credentials","client_id":"cid","client_secret":"wrong"}`: "client_secret does not match",
		`{"grant_type":"client_credentials","client_id":"x","client_secret":"csecret"}`: "client_id does not match",
		`{"grant_type":"client_credentials","client_secret":"csecret"}`:                 "client_id must be provided.",
		`not json`: "json_parse",
	} {
		ctx := request("POST", "/acme/chat/token", nil, body)
		v.ServeToken(ctx)
		var e map[string]any
		if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
			t.Fatal(err)
		}
		if ctx.Response.StatusCode() != 400 || !strings.Contains(string(ctx.Response.Body()), want) {
			t.Errorf("%s: %d %s", body, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		for _, k := range []string{"error", "exception", "timestamp", "duration", "error_description"} {
			if _, ok := e[k]; !ok {
				t.Errorf("%s: the answer lacks %q", body, k)
			}
		}
		if strings.Contains(string(ctx.Response.Body()), "csecret") {
			t.Errorf("the answer leaks the secret")
		}
	}
}

const ydKey = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
const ydApp = "yd37D192E9F20E448192827A001A84D443"

func envelope(t *testing.T, buin int64, app, msg string) string {
	t.Helper()
	c, err := auth.NewYouduCipher(ydKey)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt([]byte(msg), app)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"buin": buin, "appId": app, "encrypt": enc})
	return string(b)
}

func TestYoudu(t *testing.T) {
	clk := newClock()
	v := verifier(t, config.Youdu, config.Auth{Credentials: config.Credentials{Buin: 666666, AppID: ydApp, AESKey: config.SecretValue(ydKey)}}, clk)
	c, _ := auth.NewYouduCipher(ydKey)

	ctx := request("POST", "/cgi/gettoken", nil, envelope(t, 666666, ydApp, strconv.FormatInt(clk.Now().Unix(), 10)))
	v.ServeToken(ctx)
	var ans struct {
		ErrCode int    `json:"errcode"`
		Encrypt string `json:"encrypt"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &ans); err != nil || ans.ErrCode != 0 {
		t.Fatalf("gettoken: %s", ctx.Response.Body())
	}
	plain, app, err := c.Decrypt(ans.Encrypt)
	if err != nil || app != ydApp {
		t.Fatalf("gettoken answer cannot be opened: %v", err)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
		ExpireIn    int    `json:"expireIn"`
	}
	if err := json.Unmarshal(plain, &tok); err != nil || tok.ExpireIn != 3600 {
		t.Fatalf("token payload %s", plain)
	}

	msg := `{"toUser":"alice","msgType":"text","text":{"content":"hi"}}`
	body, gerr := v.Verify(request("POST", "/cgi/msg/send?accessToken="+tok.AccessToken, nil, envelope(t, 666666, ydApp, msg)), make([]byte, 0, 512))
	if gerr != nil || string(body) != msg {
		t.Fatalf("Verify = %q, %v", body, gerr)
	}
	for name, tc := range map[string]struct {
		uri, body string
		want      *abi.GuestError
	}{
		"no token":      {"/cgi/msg/send", envelope(t, 666666, ydApp, msg), ErrYouduNoToken},
		"unknown token": {"/cgi/msg/send?accessToken=" + strings.Repeat("0", 64), envelope(t, 666666, ydApp, msg), ErrYouduTokenUnknown},
		"wrong buin":    {"/cgi/msg/send?accessToken=" + tok.AccessToken, envelope(t, 1, ydApp, msg), ErrYouduBuin},
		"wrong app":     {"/cgi/msg/send?accessToken=" + tok.AccessToken, envelope(t, 666666, "other", msg), ErrYouduAppID},
		"garbage":       {"/cgi/msg/send?accessToken=" + tok.AccessToken, `{"buin":666666,"appId":"` + ydApp + `","encrypt":"AAAA"}`, ErrYouduEnvelope},
		"plaintext":     {"/cgi/msg/send?accessToken=" + tok.AccessToken, msg, ErrYouduNotEnvelope},
	} {
		if _, err := v.Verify(request("POST", tc.uri, nil, tc.body), nil); err != tc.want {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}

	// A stale gettoken timestamp is refused.
	ctx = request("POST", "/cgi/gettoken", nil, envelope(t, 666666, ydApp, strconv.FormatInt(clk.Now().Unix()-3600, 10)))
	v.ServeToken(ctx)
	if !strings.Contains(string(ctx.Response.Body()), `"errcode":100003`) {
		t.Errorf("stale gettoken: %s", ctx.Response.Body())
	}
	clk.Add(2 * time.Hour)
	if _, err := v.Verify(request("POST", "/cgi/msg/send?accessToken="+tok.AccessToken, nil, envelope(t, 666666, ydApp, msg)), nil); err != ErrYouduTokenExpired {
		t.Errorf("expired: %v", err)
	}

	// Seal encrypts an object under encrypt and leaves other answers alone.
	sealed, err := v.Seal(nil, []byte(`{"errcode":0,"errmsg":"ok","encrypt":{"mediaId":"m1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sealed, &ans); err != nil {
		t.Fatalf("sealed answer %s: %v", sealed, err)
	}
	if p, _, err := c.Decrypt(ans.Encrypt); err != nil || string(p) != `{"mediaId":"m1"}` {
		t.Errorf("sealed payload %q, %v", p, err)
	}
	plainAns := `{"errcode":0,"errmsg":"ok"}`
	if out, _ := v.Seal(nil, []byte(plainAns)); string(out) != plainAns {
		t.Errorf("Seal changed %s into %s", plainAns, out)
	}
}

func TestQueryClients(t *testing.T) {
	clk := newClock()
	a := config.Auth{Clients: []config.Client{{ID: "c1", Token: config.SecretValue("t1")}, {ID: "c2", Token: config.SecretValue("t2"), Sign: config.SecretValue("s2")}}}
	gs := verifier(t, config.Getsender, a, clk)
	op := verifier(t, config.Opapp, a, clk)
	cases := []struct {
		v    *Verifier
		uri  string
		want *abi.GuestError
	}{
		{gs, "/s?client=c1&token=t1&sign=x", nil},
		{gs, "/s?client=c1&token=t2", ErrClientToken},
		{gs, "/s?client=c9&token=t1", ErrClientUnknown},
		{gs, "/s?token=t1", ErrClientMissing},
		{gs, "/s?client=c2&token=t2&sign=s2", nil},
		{gs, "/s?client=c2&token=t2&sign=bad", ErrClientSign},
		{op, "/o?client=c1&channel=t1", nil},
		{op, "/o?client=c1&token=t1", ErrClientToken},
	}
	for _, tc := range cases {
		if _, err := tc.v.Verify(request("POST", tc.uri, nil, "{}"), nil); err != tc.want {
			t.Errorf("%s %s: err = %v, want %v", tc.v.dialect, tc.uri, err, tc.want)
		}
	}
}

func TestDisabled(t *testing.T) {
	v := verifier(t, config.Netease, config.Auth{Disabled: true}, newClock())
	if body, err := v.Verify(request("POST", "/x", nil, "hello"), nil); err != nil || string(body) != "hello" {
		t.Fatalf("disabled auth: %q %v", body, err)
	}
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	clk := newClock()
	ne := verifier(t, config.Netease, config.Auth{Credentials: config.Credentials{AppKey: "ak", AppSecret: config.SecretValue("sec")}}, clk)
	ct := strconv.FormatInt(clk.Now().Unix(), 10)
	neCtx := request("POST", "/x", map[string]string{"AppKey": "ak", "Nonce": "n", "CurTime": ct, "CheckSum": auth.CheckSum("sec", "n", ct)}, "{}")

	em := verifier(t, config.Easemob, easemobAuth(), clk)
	tok, _ := em.Issuer().Issue()
	emCtx := request("POST", "/x", map[string]string{"Authorization": "Bearer " + tok}, "{}")

	yd := verifier(t, config.Youdu, config.Auth{Credentials: config.Credentials{Buin: 1, AppID: ydApp, AESKey: config.SecretValue(ydKey)}}, clk)
	ytok, _ := yd.Issuer().Issue()
	ydCtx := request("POST", "/cgi/msg/send?accessToken="+ytok, nil, envelope(t, 1, ydApp, `{"toUser":"a","msgType":"text","text":{"content":"x"}}`))

	gs := verifier(t, config.Getsender, config.Auth{Clients: []config.Client{{ID: "c1", Token: config.SecretValue("t1")}}}, clk)
	gsCtx := request("POST", "/s?client=c1&token=t1", nil, "{}")

	buf := make([]byte, 0, 4096)
	for name, tc := range map[string]struct {
		v   *Verifier
		ctx *fasthttp.RequestCtx
	}{"netease": {ne, neCtx}, "easemob": {em, emCtx}, "youdu": {yd, ydCtx}, "getsender": {gs, gsCtx}} {
		if _, err := tc.v.Verify(tc.ctx, buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(50, func() { _, _ = tc.v.Verify(tc.ctx, buf) }); n != 0 {
			t.Errorf("%s: Verify allocates %.1f times", name, n)
		}
	}
}
