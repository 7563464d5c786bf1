// Package youdu emulates the Youdu (有度) enterprise-app server API that
// imrelay sends to and accepts: POST /cgi/gettoken and POST /cgi/msg/send,
// with every body in the AES-256-CBC envelope keyed by the app's
// EncodingAESKey.
//
// Accepted messages land in the [emu.Inbox] of the emulator's core; faults
// are set at run time through the admin surface of package emu. README.md
// lists what is emulated, what is not, and every behaviour chosen where the
// vendor's documentation is silent.
package youdu

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// Vendor is the emulator's name in the inbox and the admin surface.
const Vendor = "youdu"

// Built-in app ids with a fixed meaning: only sysMsgAssistant may send
// sysMsg messages, only sysExmailAssistant may send mail messages.
const (
	AppSysMsg   = "sysMsgAssistant"
	AppSysEmail = "sysExmailAssistant"
)

// Defaults of [Config].
const (
	// DefaultTokenTTL is the lifetime Youdu documents for an access token.
	DefaultTokenTTL = 7200 * time.Second
	// DefaultTokenSkew is how far the timestamp a gettoken call encrypts
	// may lie from the server's clock, either way. Youdu does not say.
	DefaultTokenSkew = 10 * time.Minute
)

// Error codes (errcode) Youdu answers with, always with HTTP status 200.
const (
	CodeOK               = 0
	CodeInternal         = -1
	CodeInvalidRequest   = 5
	CodeMissToken        = 100000
	CodeTokenNotExist    = 100001
	CodeTokenExpired     = 100002
	CodeBadRequest       = 100003
	CodeBadJSON          = 100004
	CodeBadAppID         = 100005
	CodeBadEncrypt       = 100006
	CodeMissBuin         = 100008
	CodeBadBuin          = 100009
	CodeMissAppID        = 100010
	CodeMissEncrypt      = 100011
	CodeBuinNotInt       = 100012
	CodeAppIDNotString   = 100013
	CodeEncryptNotString = 100014
	CodeToUserTooLong    = 200001
	CodeBadToUser        = 200007
	CodeBadDeptIDFormat  = 300102
)

// ErrConfig is returned by [New] for an unusable configuration.
var ErrConfig = errors.New("youdu: bad config")

// App is one enterprise app: its id and its EncodingAESKey (standard
// Base64 of 32 bytes).
type App struct {
	ID             string `json:"appId"`
	EncodingAESKey string `json:"encodingAESKey"`
}

// Config configures an [Emulator].
type Config struct {
	// Buin is the company number (企业总机号); it must be positive.
	Buin int64
	// Apps are the enterprise apps; at least one. Add apps with the ids
	// AppSysMsg or AppSysEmail to send sysMsg or mail messages.
	Apps []App

	// Emu configures the core: fault seed, clock, sleep, inbox size. Its
	// Vendor is set to "youdu" when empty. The clock (Emu.Now) also drives
	// token lifetimes and the gettoken timestamp check.
	Emu emu.Config

	// TokenTTL is the lifetime of an access token, answered as expireIn;
	// zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// TokenSkew bounds the gettoken timestamp; zero means
	// DefaultTokenSkew, negative means no check.
	TokenSkew time.Duration

	// UnknownUsers lists accounts that do not exist; every other account
	// does. See README.md for how they are reported.
	UnknownUsers []string

	// Rand draws access tokens; nil means crypto/rand.
	Rand io.Reader
}

// Emulator is one Youdu server with its apps. It is safe for concurrent
// use.
type Emulator struct {
	core    *emu.Core
	buin    int64
	apps    map[string]*auth.YouduCipher
	ttl     time.Duration
	skew    time.Duration
	unknown map[string]bool
	tokens  tokenStore
	info    Info
}

// Info is what GET /_sandbox/info answers: everything a client needs.
type Info struct {
	Vendor    string   `json:"vendor"`
	Buin      int64    `json:"buin"`
	Apps      []App    `json:"apps"`
	Endpoints []string `json:"endpoints"`
	Notes     []string `json:"notes"`
}

// New returns an emulator for one company and its apps.
func New(cfg Config) (*Emulator, error) {
	if cfg.Buin <= 0 {
		return nil, fmt.Errorf("%w: Buin must be positive", ErrConfig)
	}
	if len(cfg.Apps) == 0 {
		return nil, fmt.Errorf("%w: at least one app is required", ErrConfig)
	}
	if cfg.Emu.Vendor == "" {
		cfg.Emu.Vendor = Vendor
	}
	e := &Emulator{
		core:    emu.New(cfg.Emu),
		buin:    cfg.Buin,
		apps:    make(map[string]*auth.YouduCipher, len(cfg.Apps)),
		ttl:     cfg.TokenTTL,
		skew:    cfg.TokenSkew,
		unknown: make(map[string]bool, len(cfg.UnknownUsers)),
	}
	for i, a := range cfg.Apps {
		if a.ID == "" {
			return nil, fmt.Errorf("%w: app %d has no id", ErrConfig, i)
		}
		if _, dup := e.apps[a.ID]; dup {
			return nil, fmt.Errorf("%w: app %q listed twice", ErrConfig, a.ID)
		}
		c, err := auth.NewYouduCipher(a.EncodingAESKey)
		if err != nil {
			return nil, fmt.Errorf("%w: app %q: %w", ErrConfig, a.ID, err)
		}
		e.apps[a.ID] = c
	}
	if e.ttl <= 0 {
		e.ttl = DefaultTokenTTL
	}
	if e.ttl < time.Second {
		return nil, fmt.Errorf("%w: TokenTTL must be at least a second", ErrConfig)
	}
	if e.skew == 0 {
		e.skew = DefaultTokenSkew
	}
	for _, u := range cfg.UnknownUsers {
		e.unknown[u] = true
	}
	e.tokens = tokenStore{rand: cfg.Rand, byToken: map[string]tokenEntry{}}
	e.info = Info{
		Vendor: Vendor,
		Buin:   cfg.Buin,
		Apps:   append([]App(nil), cfg.Apps...),
		Endpoints: []string{
			"POST /cgi/gettoken",
			"POST /cgi/msg/send?accessToken=TOKEN",
		},
		Notes: []string{
			`bodies are {"buin":N,"appId":"..","encrypt":".."}; encrypt = Base64(AES-256-CBC(R16 | len32 | msg | appId | pad32)), IV = key[:16]`,
			"gettoken encrypts the Unix time in seconds; tokens last expireIn seconds and stay valid when a new one is issued",
			"errors are HTTP 200 with a non-zero errcode; the rate-limit fault answers HTTP 429",
		},
	}
	return e, nil
}

// Core returns the emulator's core: its inbox, faults and clock.
func (e *Emulator) Core() *emu.Core { return e.core }

// Info returns the company's apps and notes.
func (e *Emulator) Info() Info { return e.info }

// Handler returns the emulator's full handler: the admin surface of package
// emu under /_sandbox/ and the Youdu API behind the injected faults.
func (e *Emulator) Handler() fasthttp.RequestHandler {
	return e.core.Handler(e.serveAPI, emu.Answers{Limited: answerLimited}, func() any { return e.info })
}

// apiError is a Youdu failure answer.
type apiError struct {
	code int
	msg  string
}

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

type answer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	Encrypt string `json:"encrypt,omitempty"`
}

func writeError(ctx *fasthttp.RequestCtx, err *apiError) {
	emu.WriteJSON(ctx, fasthttp.StatusOK, answer{ErrCode: err.code, ErrMsg: err.msg})
}

// answerLimited is the rate-limit fault's answer. Youdu documents no rate
// limit; imrelay answers as a throttling proxy in front of it would, with
// HTTP 429, and a Youdu-shaped body for clients that read it anyway.
func answerLimited(ctx *fasthttp.RequestCtx) {
	emu.WriteJSON(ctx, fasthttp.StatusTooManyRequests, answer{ErrCode: CodeInternal, ErrMsg: "too many requests"})
}

var errInternal = &apiError{CodeInternal, "internal error"}

func (e *Emulator) serveAPI(ctx *fasthttp.RequestCtx) {
	var serve func(*fasthttp.RequestCtx) *apiError
	switch string(ctx.Path()) {
	case "/cgi/gettoken":
		serve = e.getToken
	case "/cgi/msg/send":
		serve = e.sendMsg
	case "/cgi/media/upload":
		serve = e.mediaUpload
	case "/cgi/media/get":
		serve = e.mediaGet
	case "/cgi/media/search":
		serve = e.mediaSearch
	default:
		emu.WriteJSON(ctx, fasthttp.StatusNotFound, answer{ErrCode: CodeInvalidRequest, ErrMsg: "youdu: no such API: " + string(ctx.Path())})
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		emu.WriteJSON(ctx, fasthttp.StatusMethodNotAllowed, answer{ErrCode: CodeInvalidRequest, ErrMsg: "youdu: use POST"})
		return
	}
	if err := serve(ctx); err != nil {
		writeError(ctx, err)
	}
}

// envelope is a parsed request body.
type envelope struct {
	appID  string
	cipher *auth.YouduCipher
	msg    []byte // the decrypted payload
}

// openEnvelope parses {"buin","appId","encrypt"} (whatever the
// Content-Type says), checks buin and appId, and decrypts. The payload's
// trailing appId must be the envelope's.
func (e *Emulator) openEnvelope(body []byte) (*envelope, *apiError) {
	if !gjson.ValidBytes(body) {
		return nil, errf(CodeBadJSON, "invalid json")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, errf(CodeBadJSON, "invalid json: want an object")
	}
	buin, appID, enc := root.Get("buin"), root.Get("appId"), root.Get("encrypt")
	switch {
	case !buin.Exists():
		return nil, errf(CodeMissBuin, "missing buin")
	case buin.Type != gjson.Number || buin.Num != float64(int64(buin.Num)):
		return nil, errf(CodeBuinNotInt, "buin must be an int")
	case int64(buin.Num) != e.buin:
		return nil, errf(CodeBadBuin, "invalid buin %d", int64(buin.Num))
	case !appID.Exists():
		return nil, errf(CodeMissAppID, "missing appId")
	case appID.Type != gjson.String:
		return nil, errf(CodeAppIDNotString, "appId must be a string")
	case !enc.Exists():
		return nil, errf(CodeMissEncrypt, "missing encrypt")
	case enc.Type != gjson.String:
		return nil, errf(CodeEncryptNotString, "encrypt must be a string")
	}
	c, ok := e.apps[appID.Str]
	if !ok {
		return nil, errf(CodeBadAppID, "invalid appId %q", appID.Str)
	}
	msg, trailing, err := c.Decrypt(enc.Str)
	if err != nil {
		// One answer for every decryption failure: no padding oracle.
		return nil, errf(CodeBadEncrypt, "encrypt decrypt failed")
	}
	if trailing != appID.Str {
		return nil, errf(CodeBadEncrypt, "encrypt decrypt failed: payload is for appId %q", trailing)
	}
	return &envelope{appID: appID.Str, cipher: c, msg: msg}, nil
}
