package e2e

import (
	"bufio"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/opapp"
)

// configuredSecrets is every secret the e2e relay is configured with: its
// clients' and its vendors'.
var configuredSecrets = map[string]string{
	"getsender client token":   tokenGetsender,
	"opapp client channel":     channelOpapp,
	"netease client secret":    neAppSecret,
	"easemob client secret":    emClientSecret,
	"youdu client aes key":     ydKey,
	"netease vendor secret":    vNeSecret,
	"youdu vendor aes key":     vYdKey,
	"easemob vendor secret":    easemob.DemoClientSecret,
	"getsender vendor token":   getsender.DemoToken,
	"opapp vendor channel":     opapp.DemoChannel,
	"youdu client aes key raw": strings.TrimRight(ydKey, "="),
}

// TestSecretsNeverLeak drives the relay through successes, refusals, bad
// input, vendor faults and plugin-free failures with a debug-level log,
// then searches every answer body and every log line for every configured
// secret.
func TestSecretsNeverLeak(t *testing.T) {
	logs := &syncBuffer{}
	e := newEnvWith(t, nil, proxy.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	var answers []string
	keep := func(a answer) { answers = append(answers, a.body) }
	for _, in := range e.dialect {
		for _, out := range e.dialect {
			rcpt := "sec" + in[:2] + out[:2]
			path, body := textRequest(in, rcpt, "secret test")
			keep(e.send(in, out, good, path, body))
			keep(e.send(in, out, wrong, path, body))
		}
	}
	for _, c := range loadBadCases(t) {
		if codecAvailable(c.dialect) {
			keep(e.sendBad(c, e.dialect[0]))
		}
	}
	for _, out := range e.dialect {
		core := e.vendors[out].core
		for _, f := range []emu.Faults{{ErrorRate: 1}, {DropRate: 1}, {ExpireTokens: 3}} {
			must(t, core.Faults.Set(f))
			path, body := textRequest(e.dialect[0], "secf"+out[:3], "fault")
			keep(e.send(e.dialect[0], out, good, path, body))
		}
		must(t, core.Faults.Set(emu.Faults{}))
	}
	// The token endpoints' refusals.
	keep(e.do(config.Easemob, "POST", "/"+emOrg+"/"+emApp+"/token", nil, []byte(`{"grant_type":"client_credentials","client_id":"`+emClientID+`","client_secret":"wrong"}`)))
	keep(e.do(config.Youdu, "POST", "/cgi/gettoken", nil, sealYoudu(t, ydBuin, ydApp, vYdKey, "1")))

	if len(answers) < 50 || logs.String() == "" {
		t.Fatalf("too little to search: %d answers, %d bytes of log", len(answers), len(logs.String()))
	}
	for what, secret := range configuredSecrets {
		for i, a := range answers {
			if strings.Contains(a, secret) {
				t.Errorf("answer %d contains the %s: %s", i, what, clip(a))
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains the %s", what)
		}
	}
}

// TestLogLinesCannotBeForged: client bytes that reach the log (a broken
// request line, a request id header with a carriage return, ids with
// newlines) stay inside one quoted value: every line of the log is one
// record the relay wrote.
func TestLogLinesCannotBeForged(t *testing.T) {
	logs := &syncBuffer{}
	e := newEnvWith(t, nil, proxy.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	forged := "level=ERROR msg=forged"
	in := e.dialect[0]
	path, body := textRequest(in, "bob\n"+forged, "x")
	e.send(in, e.dialect[0], good, path, body)
	e.do(e.dialect[0], "POST", path, map[string]string{"X-Request-Id": "r1\\n" + forged}, []byte(body))
	// Raw bytes fasthttp cannot parse: it reports them through the log.
	for _, raw := range []string{
		"POST /x\n" + forged + " HTTP/1.1\r\nHost: " + in + ".relay\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: " + in + ".relay\r\nX-Request-Id: a\r" + forged + "\r\nContent-Length: zz\r\n\r\n",
	} {
		conn, err := e.ln.Dial()
		must(t, err)
		_, _ = conn.Write([]byte(raw))
		must(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, _ = bufio.NewReader(conn).ReadString('\n')
		_ = conn.Close()
	}
	if !strings.Contains(logs.String(), "forged") {
		t.Fatalf("no client bytes reached the log: nothing was tried:\n%s", logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "time=") || strings.HasPrefix(strings.TrimSpace(line), forged) {
			t.Errorf("a log line the relay did not write: %q", line)
		}
	}
	for _, v := range e.vendors {
		if n := v.core.Inbox.Len(); n != 0 {
			t.Errorf("%s received %d messages", v.name, n)
		}
	}
}

// TestInboundLifetimes moves the relay's clock: a Youdu or Easemob token
// the relay issued stops working after its lifetime, a NetEase CurTime
// outside the window is refused, and a Youdu gettoken with a stale
// timestamp gets no token. Nothing is sent on any refusal.
func TestInboundLifetimes(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := newEnvWith(t, nil, proxy.Options{Now: now})
	target := e.dialect[0]
	if !codecAvailable(config.Youdu) || !codecAvailable(config.Easemob) || !codecAvailable(config.Netease) {
		t.Skip("needs the youdu, easemob and netease plugins built")
	}
	send := func(in, rcpt string) answer {
		path, body := textRequest(in, rcpt, "lifetime")
		return e.send(in, target, good, path, body)
	}
	// Fresh: accepted. Tokens are fetched now and cached by the helpers.
	for _, in := range []string{config.Youdu, config.Easemob, config.Netease} {
		if a := send(in, "fresh"+in[:3]); !accepted(in, a, "fresh"+in[:3]) {
			t.Fatalf("%s fresh: %s", in, clip(a.body))
		}
	}
	skew.Store(int64(config.DefaultIssuedTokenTTL + time.Second))
	if a := send(config.Youdu, "lateyd"); gjson.Get(a.body, "errcode").Int() != 100001 || !strings.Contains(a.body, "expired") {
		t.Errorf("youdu token past its lifetime: %s", clip(a.body))
	}
	if a := send(config.Easemob, "lateem"); a.status != 401 || !strings.Contains(a.body, "expired") {
		t.Errorf("easemob token past its lifetime: %d %s", a.status, clip(a.body))
	}
	// The relay's clock is two hours ahead: the client's CurTime is stale.
	if a := send(config.Netease, "latene"); gjson.Get(a.body, "code").Int() != 414 || !strings.Contains(a.body, "CurTime") {
		t.Errorf("netease CurTime outside the window: %s", clip(a.body))
	}
	skew.Store(0)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	a := e.do(config.Youdu, "POST", "/cgi/gettoken", nil, sealYoudu(t, ydBuin, ydApp, ydKey, stale))
	if gjson.Get(a.body, "errcode").Int() == 0 || gjson.Get(a.body, "encrypt").Exists() {
		t.Errorf("youdu gettoken with a stale timestamp: %s", clip(a.body))
	}
	for _, r := range []string{"lateyd", "lateem", "latene"} {
		if n := len(e.inbox(target, r)); n != 0 {
			t.Errorf("%s: %d messages arrived after a refusal", r, n)
		}
	}
	// A checksum the client computed with the right secret but a CurTime
	// six minutes old is refused even though the checksum is right.
	ct := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
	path, body := textRequest(config.Netease, "oldct", "old")
	a = e.do(target, "POST", path, map[string]string{"AppKey": neAppKey, "Nonce": "old" + ct, "CurTime": ct, "CheckSum": auth.CheckSum(neAppSecret, "old"+ct, ct)}, []byte(body))
	if gjson.Get(a.body, "code").Int() != 414 || len(e.inbox(target, "oldct")) != 0 {
		t.Errorf("netease six-minute-old CurTime: %s", clip(a.body))
	}
}
