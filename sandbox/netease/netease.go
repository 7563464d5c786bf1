// Package netease emulates the NetEase Yunxin (网易云信) IM server API that
// imrelay sends to and accepts: v1 msg/sendMsg.action and
// msg/sendBatchMsg.action, v2 conversation messages (single and batch
// P2P), all authenticated with the AppKey/Nonce/CurTime/CheckSum headers.
//
// Accepted messages land in the [emu.Inbox] of the emulator's core; faults
// are set at run time through the admin surface of package emu. README.md
// lists what is emulated, what is not, and every behaviour chosen where the
// vendor's documentation is silent.
package netease

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// Vendor is the emulator's name in the inbox and the admin surface.
const Vendor = "netease"

// Defaults of [Config].
const (
	// DefaultBatchCallsPerMinute is NetEase's documented limit of
	// msg/sendBatchMsg.action calls per app and minute.
	DefaultBatchCallsPerMinute = 120
	// BatchBlock is how long an app stays blocked after going over the
	// batch limit.
	BatchBlock = time.Minute
	// DefaultMaxBatchReceivers caps receiver_ids of the v2 batch call.
	// NetEase does not document a cap; 500 is the v1 batch limit.
	DefaultMaxBatchReceivers = 500
)

// Status codes NetEase answers with (always with HTTP status 200).
const (
	CodeOK          = 200
	CodeNotFound    = 404 // object not found (unregistered account)
	CodeParam       = 414 // parameter error, also every authentication failure
	CodeFreqControl = 416 // frequency control
	CodeInternal    = 500
)

// ErrConfig is returned by [New] for an unusable configuration.
var ErrConfig = errors.New("netease: bad config")

// Config configures an [Emulator].
type Config struct {
	// AppKey and AppSecret are the one app's credentials. Both are required.
	AppKey    string
	AppSecret string

	// Emu configures the core: fault seed, clock, sleep, inbox size. Its
	// Vendor is set to "netease" when empty. The clock (Emu.Now) also
	// drives the CurTime window and the batch rate limit.
	Emu emu.Config

	// Window is the CurTime validity window, in either direction; zero
	// means auth.CheckSumWindow (5 minutes).
	Window time.Duration

	// BatchCallsPerMinute limits msg/sendBatchMsg.action calls; zero means
	// DefaultBatchCallsPerMinute, negative means no limit.
	BatchCallsPerMinute int

	// MaxBatchReceivers caps receiver_ids of the v2 batch call; zero means
	// DefaultMaxBatchReceivers.
	MaxBatchReceivers int

	// Unregistered lists accids the emulator treats as not registered:
	// messages to them are refused (single sends) or reported as failed
	// (batch sends). Every other accid exists.
	Unregistered []string
}

// Emulator is one NetEase app. It is safe for concurrent use.
type Emulator struct {
	core         *emu.Core
	verifier     auth.CheckSumVerifier
	maxReceivers int
	unregistered map[string]bool
	batch        batchLimiter
	info         Info
}

// Info is what GET /_sandbox/info answers: everything a client needs.
type Info struct {
	Vendor    string   `json:"vendor"`
	AppKey    string   `json:"app_key"`
	AppSecret string   `json:"app_secret"`
	Endpoints []string `json:"endpoints"`
	Notes     []string `json:"notes"`
}

// New returns an emulator for one app.
func New(cfg Config) (*Emulator, error) {
	if cfg.AppKey == "" || cfg.AppSecret == "" {
		return nil, fmt.Errorf("%w: AppKey and AppSecret are required", ErrConfig)
	}
	if cfg.Emu.Vendor == "" {
		cfg.Emu.Vendor = Vendor
	}
	core := emu.New(cfg.Emu)
	e := &Emulator{
		core: core,
		verifier: auth.CheckSumVerifier{
			AppKey:    cfg.AppKey,
			AppSecret: cfg.AppSecret,
			Window:    cfg.Window,
			Now:       core.Now,
		},
		maxReceivers: cfg.MaxBatchReceivers,
		unregistered: make(map[string]bool, len(cfg.Unregistered)),
		batch:        batchLimiter{limit: cfg.BatchCallsPerMinute},
	}
	if e.maxReceivers <= 0 {
		e.maxReceivers = DefaultMaxBatchReceivers
	}
	if e.batch.limit == 0 {
		e.batch.limit = DefaultBatchCallsPerMinute
	}
	for _, a := range cfg.Unregistered {
		e.unregistered[a] = true
	}
	e.info = Info{
		Vendor:    Vendor,
		AppKey:    cfg.AppKey,
		AppSecret: cfg.AppSecret,
		Endpoints: []string{
			"POST /nimserver/msg/sendMsg.action",
			"POST /nimserver/msg/sendBatchMsg.action",
			"POST /im/v2/conversations/{sender|type|receiver}/messages",
			"POST /im/v2/conversations/messages",
		},
		Notes: []string{
			"headers AppKey, Nonce, CurTime, CheckSum = sha1hex(AppSecret+Nonce+CurTime) on every call",
			"errors are HTTP 200 with code 414 (parameter or auth), 416 (rate limit), 404 (unregistered account), 500",
			"/nimserver is optional in front of every path",
			"forced token expiry does nothing: NetEase has no tokens",
		},
	}
	return e, nil
}

// Core returns the emulator's core: its inbox, faults and clock.
func (e *Emulator) Core() *emu.Core { return e.core }

// Info returns the app's credentials and notes.
func (e *Emulator) Info() Info { return e.info }

// Handler returns the emulator's full handler: the admin surface of package
// emu under /_sandbox/ and the NetEase API behind the injected faults.
func (e *Emulator) Handler() fasthttp.RequestHandler {
	return e.core.Handler(e.serveAPI, emu.Answers{Limited: e.answerLimited}, func() any { return e.info })
}

// apiVersion selects the error shape: v1 {"code","desc"}, v2 {"code","msg","data"}.
type apiVersion int

const (
	v1 apiVersion = iota + 1
	v2
)

// apiError is a NetEase failure answer.
type apiError struct {
	code int
	desc string
}

func errParam(format string, args ...any) *apiError {
	return &apiError{code: CodeParam, desc: fmt.Sprintf(format, args...)}
}

// route is one matched API call.
type route struct {
	version apiVersion
	serve   func(e *Emulator, ctx *fasthttp.RequestCtx, r *route) *apiError
	convID  string // v2 single send: the decoded conversation id
}

// match finds the API of a raw path, with or without /nimserver in front.
func match(rawPath []byte) (*route, bool) {
	p := string(rawPath)
	if rest, ok := strings.CutPrefix(p, "/nimserver/"); ok {
		p = "/" + rest
	}
	switch p {
	case "/msg/sendMsg.action":
		return &route{version: v1, serve: (*Emulator).sendMsg}, true
	case "/msg/sendBatchMsg.action":
		return &route{version: v1, serve: (*Emulator).sendBatchMsg}, true
	case "/msg/upload.action":
		return &route{version: v1, serve: (*Emulator).upload}, true
	case "/im/v2/conversations/messages":
		return &route{version: v2, serve: (*Emulator).batchSendV2}, true
	}
	seg, ok := strings.CutPrefix(p, "/im/v2/conversations/")
	if !ok {
		return nil, false
	}
	seg, ok = strings.CutSuffix(seg, "/messages")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		return nil, false
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		// A malformed escape is still this API: report it as a bad id.
		id = seg
	}
	return &route{version: v2, serve: (*Emulator).sendV2, convID: id}, true
}

func (e *Emulator) serveAPI(ctx *fasthttp.RequestCtx) {
	if e.download(ctx) {
		return
	}
	r, ok := match(ctx.URI().PathOriginal())
	if !ok {
		emu.WriteJSON(ctx, fasthttp.StatusNotFound, map[string]any{
			"code": CodeNotFound, "desc": "netease: no such API: " + string(ctx.Path()),
		})
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		emu.WriteJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]any{
			"code": 405, "desc": "netease: use POST",
		})
		return
	}
	if err := e.authenticate(ctx); err != nil {
		writeError(ctx, r.version, err)
		return
	}
	if err := r.serve(e, ctx, r); err != nil {
		writeError(ctx, r.version, err)
	}
}

// Auth failure descriptions. "appkey", "checksum" and "CurTime is expired"
// are the ones NetEase is seen to answer; the mapping of the other failures
// onto them is imrelay's choice (see README.md).
const (
	descAppKey  = "appkey"
	descCheck   = "checksum"
	descExpired = "CurTime is expired"
)

func (e *Emulator) authenticate(ctx *fasthttp.RequestCtx) *apiError {
	h := &ctx.Request.Header
	err := e.verifier.Verify(h.Peek("AppKey"), h.Peek("Nonce"), h.Peek("CurTime"), h.Peek("CheckSum"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrUnknownAppKey), len(h.Peek("AppKey")) == 0:
		return &apiError{CodeParam, descAppKey}
	case errors.Is(err, auth.ErrBadCurTime), errors.Is(err, auth.ErrCurTimeExpired):
		return &apiError{CodeParam, descExpired}
	default: // missing Nonce/CurTime/CheckSum, long Nonce, wrong CheckSum
		return &apiError{CodeParam, descCheck}
	}
}

func writeError(ctx *fasthttp.RequestCtx, v apiVersion, err *apiError) {
	if v == v2 {
		emu.WriteJSON(ctx, fasthttp.StatusOK, v2Error{Code: err.code, Msg: err.desc, Data: struct{}{}})
		return
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, v1Error{Code: err.code, Desc: err.desc})
}

type v1Error struct {
	Code int    `json:"code"`
	Desc string `json:"desc"`
}

type v2Error struct {
	Code int      `json:"code"`
	Msg  string   `json:"msg"`
	Data struct{} `json:"data"`
}

// answerLimited is the rate-limit fault's answer: code 416 in the shape of
// the API called.
func (e *Emulator) answerLimited(ctx *fasthttp.RequestCtx) {
	v := v1
	if r, ok := match(ctx.URI().PathOriginal()); ok {
		v = r.version
	}
	writeError(ctx, v, &apiError{CodeFreqControl, descFreq})
}

const descFreq = "api freq control"

// errInternal answers the error-rate fault, drawn for each message that
// would otherwise be accepted.
var errInternal = &apiError{CodeInternal, "server error"}

// batchLimiter enforces NetEase's documented limit on sendBatchMsg.action:
// limit calls per minute per app; the call over the limit is answered 416
// and blocks the app for BatchBlock. Minutes are fixed windows starting at
// the first call after the previous window ended.
type batchLimiter struct {
	limit int // < 0: off

	mu           sync.Mutex
	windowStart  time.Time
	calls        int
	blockedUntil time.Time
}

func (b *batchLimiter) take(now time.Time) bool {
	if b.limit < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.blockedUntil) {
		return false
	}
	if b.windowStart.IsZero() || now.Sub(b.windowStart) >= time.Minute {
		b.windowStart, b.calls = now, 0
	}
	if b.calls >= b.limit {
		b.blockedUntil = now.Add(BatchBlock)
		return false
	}
	b.calls++
	return true
}
