// Package e2e runs the relay end to end: real clients in each dialect, the
// relay with the built codec plugins, and the sandbox emulators as the
// providers. What arrives in a provider's inbox is checked field by field.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/netease"
	"github.com/imrelay/imrelay/sandbox/opapp"
	"github.com/imrelay/imrelay/sandbox/youdu"
)

// The relay's own clients' credentials (what a team's clients already use).
const (
	clientGetsender, tokenGetsender = "gs-client", "gs-token-0123456789"
	clientOpapp, channelOpapp       = "op-client", "op-channel-0123456789"
	neAppKey, neAppSecret           = "relay-appkey", "relay-appsecret"
	emOrg, emApp                    = "relayorg", "relayapp"
	emClientID, emClientSecret      = "YXA6relayclient", "YXA6relaysecret"
	ydBuin                          = 700001
	ydApp                           = "ydrelayclients"
	ydKey                           = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
	relaySender                     = "relaybot"
)

// The sandbox vendors' credentials (what the relay uses outbound).
const (
	vNeAppKey, vNeSecret = "vendor-appkey", "vendor-secret"
	vYdBuin              = 666666
	vYdApp               = "yd37D192E9F20E448192827A001A84D443"
	vYdKey               = "HDlT1mo+RM1dqmBYAEVxZ5NUbBzIDkOgDy9ZtaOCKCk="
)

// codecAvailable reports whether the plugin's .wasm has been built.
// Every codec is committed, so a missing one is a broken tree, not a reason
// to skip: it reports false only to let the caller fail with the name.
func codecAvailable(name string) bool {
	_, err := os.Stat(pluginPath(name))
	return err == nil
}

// pluginPath is where a built codec is: IMRELAY_TEST_PLUGINS, when set,
// names a folder of <name>.wasm files to use instead of the repository's
// (to try plugins not committed yet).
func pluginPath(name string) string {
	if d := os.Getenv("IMRELAY_TEST_PLUGINS"); d != "" {
		if p := filepath.Join(d, name+".wasm"); fileExists(p) {
			return p
		}
	}
	return filepath.Join("..", "..", "plugins", name, name+".wasm")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func pluginFile(name string) ([]byte, error) { return os.ReadFile(pluginPath(name)) }

// vendor is one sandbox emulator on loopback.
type vendor struct {
	name string
	url  string
	core *emu.Core
}

// env is a relay with a route for every (client dialect, target) pair whose
// codecs are built, and the five emulators behind it. Routes are told apart
// by Host: "<target>.relay".
type env struct {
	t       *testing.T
	vendors map[string]*vendor
	relay   *proxy.Server
	ln      *fasthttputil.InmemoryListener
	cli     *fasthttp.Client
	dialect []string // built codecs, in config.Dialects order

	mu     sync.Mutex
	tokens map[string]string // route → Easemob/Youdu token the relay issued
}

func startVendor(t *testing.T, name string, core *emu.Core, h fasthttp.RequestHandler) *vendor {
	t.Helper()
	srv, err := emu.Start("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &vendor{name: name, url: srv.URL(), core: core}
}

// newEnv starts everything. tweak may change the configuration first.
func newEnv(t *testing.T, tweak func(*config.Config)) *env {
	t.Helper()
	return newEnvWith(t, tweak, proxy.Options{})
}

// newEnvWith is newEnv with the relay's options (a logger to read, a
// clock); Plugin and Logger default to the repository's plugins and a
// discarding logger.
func newEnvWith(t *testing.T, tweak func(*config.Config), opt proxy.Options) *env {
	t.Helper()
	e := &env{t: t, vendors: map[string]*vendor{}, tokens: map[string]string{}}
	for _, d := range config.Dialects {
		if !codecAvailable(d) {
			t.Fatalf("missing plugins/%s: run make plugins", d)
		}
		e.dialect = append(e.dialect, d)
	}
	em, err := easemob.New(easemob.Config{})
	must(t, err)
	e.vendors[config.Easemob] = startVendor(t, config.Easemob, em.Core(), em.Handler())
	ne, err := netease.New(netease.Config{AppKey: vNeAppKey, AppSecret: vNeSecret, Unregistered: []string{"ghost"}})
	must(t, err)
	e.vendors[config.Netease] = startVendor(t, config.Netease, ne.Core(), ne.Handler())
	yd, err := youdu.New(youdu.Config{Buin: vYdBuin, Apps: []youdu.App{{ID: vYdApp, EncodingAESKey: vYdKey}}, UnknownUsers: []string{"ghost"}})
	must(t, err)
	e.vendors[config.Youdu] = startVendor(t, config.Youdu, yd.Core(), yd.Handler())
	gs, err := getsender.New(getsender.Config{})
	must(t, err)
	e.vendors[config.Getsender] = startVendor(t, config.Getsender, gs.Core(), gs.Handler())
	op, err := opapp.New(opapp.Config{})
	must(t, err)
	e.vendors[config.Opapp] = startVendor(t, config.Opapp, op.Core(), op.Handler())

	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{},
		Plugins:   config.PluginHost{CacheDir: wasmhost.DefaultCacheDir()},
	}
	opts := map[string]any{"sender": relaySender}
	for _, d := range e.dialect {
		v := e.vendors[d]
		p := &config.Provider{Dialect: d, BaseURL: v.url, Options: opts}
		switch d {
		case config.Easemob:
			p.Credentials = config.Credentials{Org: easemob.DemoOrg, App: easemob.DemoApp, ClientID: easemob.DemoClientID, ClientSecret: config.SecretValue(easemob.DemoClientSecret)}
		case config.Netease:
			p.Credentials = config.Credentials{AppKey: vNeAppKey, AppSecret: config.SecretValue(vNeSecret)}
		case config.Youdu:
			p.Credentials = config.Credentials{Buin: vYdBuin, AppID: vYdApp, AESKey: config.SecretValue(vYdKey)}
		case config.Getsender:
			p.Credentials = config.Credentials{Client: getsender.DemoClient, Token: config.SecretValue(getsender.DemoToken), Query: map[string]string{"apiVersion": "01"}}
		case config.Opapp:
			p.Credentials = config.Credentials{Client: opapp.DemoClient, Token: config.SecretValue(opapp.DemoChannel), Query: map[string]string{"apiVersion": "01", "version": "1.15"}}
		}
		cfg.Providers[d] = p
	}
	for _, in := range e.dialect {
		for _, out := range e.dialect {
			r := config.Route{Name: in + "->" + out, Host: out + ".relay", Dialect: in, Target: out, Policy: config.PolicyDegrade}
			switch in {
			case config.Getsender:
				r.Auth.Clients = []config.Client{{ID: clientGetsender, Token: config.SecretValue(tokenGetsender)}}
			case config.Opapp:
				r.Auth.Clients = []config.Client{{ID: clientOpapp, Token: config.SecretValue(channelOpapp)}}
			case config.Netease:
				r.Auth.AppKey, r.Auth.AppSecret = neAppKey, config.SecretValue(neAppSecret)
			case config.Easemob:
				r.Auth.Org, r.Auth.App, r.Auth.ClientID, r.Auth.ClientSecret = emOrg, emApp, emClientID, config.SecretValue(emClientSecret)
			case config.Youdu:
				r.Auth.Buin, r.Auth.AppID, r.Auth.AESKey = ydBuin, ydApp, config.SecretValue(ydKey)
			}
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	if tweak != nil {
		tweak(cfg)
	}
	must(t, cfg.Validate())
	if opt.Plugin == nil {
		opt.Plugin = pluginFile
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := proxy.New(context.Background(), cfg, opt)
	must(t, err)
	e.relay = s
	e.ln = fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(e.ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
		_ = s.Close(ctx)
	})
	e.cli = &fasthttp.Client{
		Dial:                      func(string) (net.Conn, error) { return e.ln.Dial() },
		MaxIdemponentCallAttempts: 1,
		ReadTimeout:               20 * time.Second,
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// answer is the relay's answer to a client.
type answer struct {
	status int
	body   string
}

// do sends one request to the relay for target.
func (e *env) do(target, method, uri string, headers map[string]string, body []byte) answer {
	e.t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + target + ".relay" + uri)
	req.Header.SetMethod(method)
	req.Header.SetContentType("application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBody(body)
	if err := e.cli.DoTimeout(req, resp, 20*time.Second); err != nil {
		e.t.Fatalf("%s %s: %v", method, uri, err)
	}
	return answer{resp.StatusCode(), string(resp.Body())}
}

// nonceSeq numbers the NetEase Nonces of a test process.
var nonceSeq atomic.Int64

// creds selects the credentials a client presents.
type creds int

const (
	good creds = iota
	wrong
)

// send sends a dialect's native request with body as the client's JSON.
// For Youdu body is the plaintext, sealed here; the answer is opened.
func (e *env) send(in, target string, cr creds, path string, body string) answer {
	e.t.Helper()
	switch in {
	case config.Getsender:
		tok := tokenGetsender
		if cr == wrong {
			tok = "not-the-token"
		}
		return e.do(target, "POST", path+"?apiVersion=01&client="+clientGetsender+"&token="+tok+"&sign=x", nil, []byte(body))
	case config.Opapp:
		ch := channelOpapp
		if cr == wrong {
			ch = "not-the-channel"
		}
		return e.do(target, "POST", path+"?apiVersion=01&client="+clientOpapp+"&version=1.15&channel="+ch+"&sign=x", nil, []byte(body))
	case config.Netease:
		secret := neAppSecret
		if cr == wrong {
			secret = "not-the-secret"
		}
		ct := strconv.FormatInt(time.Now().Unix(), 10)
		nonce := "n" + strconv.FormatInt(nonceSeq.Add(1), 10) // a new Nonce per request: the relay refuses replays
		return e.do(target, "POST", path, map[string]string{"AppKey": neAppKey, "Nonce": nonce, "CurTime": ct, "CheckSum": auth.CheckSum(secret, nonce, ct)}, []byte(body))
	case config.Easemob:
		tok := e.easemobToken(target)
		if cr == wrong {
			tok = strings.Repeat("ab", 32)
		}
		return e.do(target, "POST", path, map[string]string{"Authorization": "Bearer " + tok}, []byte(body))
	case config.Youdu:
		tok := e.youduToken(target)
		if cr == wrong {
			tok = strings.Repeat("cd", 32)
		}
		a := e.do(target, "POST", path+"?accessToken="+tok, nil, sealYoudu(e.t, ydBuin, ydApp, ydKey, body))
		return a
	}
	e.t.Fatalf("unknown dialect %s", in)
	return answer{}
}

func (e *env) easemobToken(target string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tok, ok := e.tokens["easemob->"+target]; ok {
		return tok
	}
	body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": emClientID, "client_secret": emClientSecret})
	a := e.do(target, "POST", "/"+emOrg+"/"+emApp+"/token", nil, body)
	tok := gjson.Get(a.body, "access_token").String()
	if a.status != 200 || tok == "" {
		e.t.Fatalf("easemob token: %d %s", a.status, a.body)
	}
	e.tokens["easemob->"+target] = tok
	return tok
}

func (e *env) youduToken(target string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tok, ok := e.tokens["youdu->"+target]; ok {
		return tok
	}
	a := e.do(target, "POST", "/cgi/gettoken", nil, sealYoudu(e.t, ydBuin, ydApp, ydKey, strconv.FormatInt(time.Now().Unix(), 10)))
	plain := openYoudu(e.t, ydKey, gjson.Get(a.body, "encrypt").String())
	tok := gjson.Get(plain, "accessToken").String()
	if tok == "" {
		e.t.Fatalf("youdu gettoken: %s", a.body)
	}
	e.tokens["youdu->"+target] = tok
	return tok
}

func sealYoudu(t *testing.T, buin int64, app, key, msg string) []byte {
	t.Helper()
	c, err := auth.NewYouduCipher(key)
	must(t, err)
	enc, err := c.Encrypt([]byte(msg), app)
	must(t, err)
	b, _ := json.Marshal(map[string]any{"buin": buin, "appId": app, "encrypt": enc})
	return b
}

func openYoudu(t *testing.T, key, enc string) string {
	t.Helper()
	c, err := auth.NewYouduCipher(key)
	must(t, err)
	p, _, err := c.Decrypt(enc)
	if err != nil {
		t.Fatalf("youdu answer cannot be opened: %v", err)
	}
	return string(p)
}

// inbox returns what the target vendor accepted for a recipient.
func (e *env) inbox(target, to string) []emu.Message {
	return e.vendors[target].core.Inbox.List(emu.Filter{To: to})
}
