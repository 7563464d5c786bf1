package youdu

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/auth"
)

func TestNewConfig(t *testing.T) {
	good := []App{{ID: testApp, EncodingAESKey: testKey}}
	cases := []struct {
		name    string
		cfg     Config
		mention string
	}{
		{"no buin", Config{Apps: good}, "Buin"},
		{"no apps", Config{Buin: 1}, "at least one app"},
		{"app without id", Config{Buin: 1, Apps: []App{{EncodingAESKey: testKey}}}, "no id"},
		{"bad key", Config{Buin: 1, Apps: []App{{ID: "a", EncodingAESKey: "c2hvcnQ="}}}, "5 bytes"},
		{"duplicate app", Config{Buin: 1, Apps: append(good, good...)}, "twice"},
		{"sub-second ttl", Config{Buin: 1, Apps: good, TokenTTL: time.Millisecond}, "TokenTTL"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.mention) || !strings.HasPrefix(err.Error(), "youdu: ") {
			t.Errorf("%s: %v, want ErrConfig mentioning %q", c.name, err, c.mention)
		}
	}
	if _, err := New(Config{Buin: 1, Apps: []App{{ID: "a", EncodingAESKey: "c2hvcnQ="}}}); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("bad key does not wrap auth.ErrBadKey: %v", err)
	}
}

func TestGetToken(t *testing.T) {
	h := newHarness(t, nil)
	a := h.post("/cgi/gettoken", h.seal(testApp, "1700000000"), "")
	a.want(t, CodeOK)
	if a.json.Get("errmsg").Str != "ok" {
		t.Fatalf("errmsg %q", a.json.Get("errmsg").Str)
	}
	msg, trailing, err := cipherOf(t, testApp).Decrypt(a.json.Get("encrypt").Str)
	if err != nil || trailing != testApp {
		t.Fatalf("decrypt reply: %v, appId %q", err, trailing)
	}
	p := gjson.ParseBytes(msg)
	tok := p.Get("accessToken").Str
	if len(tok) != 64 || p.Get("expireIn").Raw != "7200" {
		t.Fatalf("payload %s", msg)
	}
	n := 0
	p.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	if n != 2 {
		t.Fatalf("payload %s has extra keys", msg)
	}
	h.sendWith(tok, testApp, textPayload("alice", "hi")).want(t, CodeOK)
}

// The request of the known-reply vector (R = "0123456789abcdef") is a
// valid gettoken call at 1700000000.
func TestGetTokenKnownVector(t *testing.T) {
	h := newHarness(t, nil)
	const vector = "v6805vKW2awcnEiXuLdBsJgkPWEbi0SmjoVvQjI6IxVkJU1Wtd31Rwr+8HORL4ZTqcNSzK7yunGfkaLyJ57LkS8dgAzQ+nF8RQd+ufQ/+0ZAjzGZQfBGOFbarxDFMhcp"
	h.post("/cgi/gettoken", envelopeJSON(testBuin, testApp, vector), "").want(t, CodeOK)
}

// Clients of the official Go and Python SDKs encrypt and decrypt with a
// random IV; addcnos/youdu sends no Content-Type.
func TestGetTokenTolerance(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := base64.StdEncoding.DecodeString(testKey)
	block, _ := aes.NewCipher(key)
	iv := []byte("IVIVIVIVIVIVIVIV")

	plain := []byte("RRRRRRRRRRRRRRRR")
	plain = binary.BigEndian.AppendUint32(plain, 10)
	plain = append(plain, "1700000000"+testApp...)
	pad := 32 - len(plain)%32
	plain = append(plain, []byte(strings.Repeat(string(rune(pad)), pad))...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)

	a := h.post("/cgi/gettoken", envelopeJSON(testBuin, testApp, base64.StdEncoding.EncodeToString(ct)), "-")
	a.want(t, CodeOK)

	// The reply, decrypted with a random IV, still yields the token.
	raw, _ := base64.StdEncoding.DecodeString(a.json.Get("encrypt").Str)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(raw, raw)
	l := binary.BigEndian.Uint32(raw[16:20])
	if tok := gjson.GetBytes(raw[20:20+l], "accessToken").Str; len(tok) != 64 {
		t.Fatalf("random-IV client read %q", raw[20:20+l])
	}
}

func TestGetTokenFailures(t *testing.T) {
	h := newHarness(t, nil)
	good := func(app string) string {
		enc, _ := cipherOf(t, app).Encrypt([]byte("1700000000"), app)
		return enc
	}
	wrongTrailing, _ := cipherOf(t, testApp).Encrypt([]byte("1700000000"), otherApp)
	notTime, _ := cipherOf(t, testApp).Encrypt([]byte("now"), testApp)
	cases := []struct {
		name string
		body string
		code int
	}{
		{"not JSON", "buin=666666", CodeBadJSON},
		{"an array", "[]", CodeBadJSON},
		{"empty body", "", CodeBadJSON},
		{"missing buin", `{"appId":"` + testApp + `","encrypt":"` + good(testApp) + `"}`, CodeMissBuin},
		{"buin a string", `{"buin":"666666","appId":"` + testApp + `","encrypt":"` + good(testApp) + `"}`, CodeBuinNotInt},
		{"buin a float", `{"buin":666666.5,"appId":"` + testApp + `","encrypt":"` + good(testApp) + `"}`, CodeBuinNotInt},
		{"wrong buin", envelopeJSON(123, testApp, good(testApp)), CodeBadBuin},
		{"missing appId", `{"buin":666666,"encrypt":"` + good(testApp) + `"}`, CodeMissAppID},
		{"appId a number", `{"buin":666666,"appId":1,"encrypt":"` + good(testApp) + `"}`, CodeAppIDNotString},
		{"unknown appId", envelopeJSON(testBuin, "ydNOBODY", good(testApp)), CodeBadAppID},
		{"missing encrypt", `{"buin":666666,"appId":"` + testApp + `"}`, CodeMissEncrypt},
		{"encrypt a number", `{"buin":666666,"appId":"` + testApp + `","encrypt":1}`, CodeEncryptNotString},
		{"encrypt not base64", envelopeJSON(testBuin, testApp, "%%%"), CodeBadEncrypt},
		{"encrypt too short", envelopeJSON(testBuin, testApp, "AAAA"), CodeBadEncrypt},
		{"encrypted with another app's key", envelopeJSON(testBuin, testApp, good(otherApp)), CodeBadEncrypt},
		{"payload for another appId", envelopeJSON(testBuin, testApp, wrongTrailing), CodeBadEncrypt},
		{"payload not a time", envelopeJSON(testBuin, testApp, notTime), CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.post("/cgi/gettoken", c.body, "").want(t, c.code)
		})
	}
}

func TestGetTokenClockSkew(t *testing.T) {
	h := newHarness(t, nil)
	at := func(sec int64) string { return h.seal(testApp, strconv.FormatInt(sec, 10)) }
	now := t0.Unix()
	h.post("/cgi/gettoken", at(now-600), "").want(t, CodeOK)
	h.post("/cgi/gettoken", at(now+600), "").want(t, CodeOK)
	h.post("/cgi/gettoken", at(now-601), "").want(t, CodeBadRequest)
	h.post("/cgi/gettoken", at(now+601), "").want(t, CodeBadRequest)

	off := newHarness(t, func(c *Config) { c.TokenSkew = -1 })
	off.post("/cgi/gettoken", off.seal(testApp, "0"), "").want(t, CodeOK)
}

func TestTokenLifetime(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	h.clk.Advance(7199 * time.Second)
	h.sendWith(tok, testApp, textPayload("alice", "hi")).want(t, CodeOK)
	h.clk.Advance(time.Second)
	h.sendWith(tok, testApp, textPayload("alice", "hi")).want(t, CodeTokenExpired)
}

func TestTokenLifetimeSettable(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TokenTTL = time.Minute })
	a := h.post("/cgi/gettoken", h.seal(testApp, "1700000000"), "")
	msg, _, _ := cipherOf(t, testApp).Decrypt(a.json.Get("encrypt").Str)
	if gjson.GetBytes(msg, "expireIn").Int() != 60 {
		t.Fatalf("payload %s", msg)
	}
	tok := gjson.GetBytes(msg, "accessToken").Str
	h.clk.Advance(time.Minute)
	h.sendWith(tok, testApp, textPayload("alice", "hi")).want(t, CodeTokenExpired)
}

// Every call issues a new token; the older ones stay valid until their own
// expiry.
func TestNewTokenKeepsOldOnes(t *testing.T) {
	h := newHarness(t, nil)
	first := h.token(testApp)
	h.clk.Advance(time.Hour)
	second := h.token(testApp)
	if first == second {
		t.Fatal("gettoken answered the same token twice")
	}
	h.sendWith(first, testApp, textPayload("alice", "1")).want(t, CodeOK)
	h.sendWith(second, testApp, textPayload("alice", "2")).want(t, CodeOK)
	h.clk.Advance(time.Hour)
	h.sendWith(first, testApp, textPayload("alice", "3")).want(t, CodeTokenExpired)
	h.sendWith(second, testApp, textPayload("alice", "4")).want(t, CodeOK)
}

// An expired token is recognised as expired for at least its lifetime,
// then forgotten (answered "not exist").
func TestExpiredTokensForgotten(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TokenTTL = time.Minute })
	old := h.token(testApp)
	h.clk.Advance(2 * time.Minute)
	h.sendWith(old, testApp, textPayload("alice", "x")).want(t, CodeTokenExpired)
	for range 64 {
		h.token(testApp)
	}
	h.sendWith(old, testApp, textPayload("alice", "x")).want(t, CodeTokenNotExist)
}

func TestSendTokenFailures(t *testing.T) {
	h := newHarness(t, nil)
	payload := h.seal(testApp, textPayload("alice", "hi"))
	h.post("/cgi/msg/send", payload, "").want(t, CodeMissToken)
	h.post("/cgi/msg/send?accessToken=", payload, "").want(t, CodeMissToken)
	h.post("/cgi/msg/send?accesstoken="+h.token(testApp), payload, "").want(t, CodeMissToken) // the name is case-sensitive
	h.post("/cgi/msg/send?accessToken=nosuchtoken", payload, "").want(t, CodeTokenNotExist)
	// A token of one app cannot send for another.
	h.sendWith(h.token(otherApp), testApp, textPayload("alice", "hi")).want(t, CodeBadAppID)
	if n := len(h.inbox()); n != 0 {
		t.Fatalf("%d messages accepted", n)
	}
}
