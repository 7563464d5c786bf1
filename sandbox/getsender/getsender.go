// Package getsender emulates the in-house "message sending center" that
// imrelay calls the getsender dialect: POST
// /sender/v1/handleBusinessMessage with the caller's client id and token in
// the query. It validates the documented fields and answers in the house
// envelope {code, message, data, page, foot}. See README.md for what is
// emulated and which behaviours are assumptions.
package getsender

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Vendor is the name stamped on inbox entries.
const Vendor = "getsender"

// Path is the one endpoint.
const Path = "/sender/v1/handleBusinessMessage"

// Demo credentials, used when Config leaves them empty.
const (
	DemoClient = "5f2b9c1e8a7d4e3fb6c0a1d2e3f40001"
	DemoToken  = "9a8b7c6d5e4f40a1b2c3d4e5f6a70002"
)

// Codes of the envelope. The seed documents only 200; the others are
// the emulator's choice. [ASSUMPTION]
const (
	CodeOK        = 200
	CodeParam     = 400 // a request field is missing or wrong
	CodeAuth      = 401 // client, token or sign refused; forced expiry
	CodeNotFound  = 404
	CodeMethod    = 405
	CodeRateLimit = 429
	CodeInternal  = 500
)

// ErrConfig is returned by [New] for an unusable configuration.
var ErrConfig = errors.New("getsender: bad config")

// Config configures an [Emulator].
type Config struct {
	// Clients maps each accepted client id to its token. Empty means
	// {DemoClient: DemoToken}.
	Clients map[string]string
	// CheckSign, when set, must accept a call's query and body, or the
	// call is refused with CodeAuth. The sign scheme is not documented, so
	// by default any sign, or none, is accepted. [ASSUMPTION]
	CheckSign func(query *fasthttp.Args, body []byte) bool
	// Host is foot.host in every answer; empty means "imrelay-sandbox".
	Host string
	// Emu configures the core: fault seed, clock, sleep, inbox size.
	Emu emu.Config
}

// Emulator is one getsender service.
type Emulator struct {
	core *emu.Core
	cfg  Config
}

// New returns an emulator.
func New(cfg Config) (*Emulator, error) {
	if len(cfg.Clients) == 0 {
		cfg.Clients = map[string]string{DemoClient: DemoToken}
	}
	for c, t := range cfg.Clients {
		if c == "" || t == "" {
			return nil, fmt.Errorf("%w: client id and token must not be empty", ErrConfig)
		}
	}
	if cfg.Host == "" {
		cfg.Host = "imrelay-sandbox"
	}
	cfg.Emu.Vendor = Vendor
	return &Emulator{core: emu.New(cfg.Emu), cfg: cfg}, nil
}

// Core returns the emulator's inbox, faults and clock.
func (e *Emulator) Core() *emu.Core { return e.core }

// Info is what GET /_sandbox/info answers.
type Info struct {
	Vendor  string            `json:"vendor"`
	Path    string            `json:"path"`
	Clients map[string]string `json:"clients"` // client id → token
	Sign    string            `json:"sign"`
}

// Info returns the emulator's credentials.
func (e *Emulator) Info() Info {
	sign := "any"
	if e.cfg.CheckSign != nil {
		sign = "checked"
	}
	return Info{Vendor: Vendor, Path: Path, Clients: e.cfg.Clients, Sign: sign}
}

// Handler returns the emulator's HTTP handler: the API with faults
// applied, and the sandbox admin surface under emu.Prefix.
func (e *Emulator) Handler() fasthttp.RequestHandler {
	return e.core.Handler(e.serve, emu.Answers{
		Internal: func(ctx *fasthttp.RequestCtx) { e.reply(ctx, 200, CodeInternal, "未知异常", nil) },
		Limited:  func(ctx *fasthttp.RequestCtx) { e.reply(ctx, 200, CodeRateLimit, "请求过于频繁", nil) },
	}, func() any { return e.Info() })
}

// Foot is the house footer of every answer.
type Foot struct {
	OperationTime string `json:"operationTime"`
	ServicePhone  string `json:"servicePhone"`
	Host          string `json:"host"`
}

// Envelope is the house answer.
type Envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
	Page    any    `json:"page"`
	Foot    Foot   `json:"foot"`
}

// Data is the success payload.
type Data struct {
	GetMessageID string `json:"getMessageId"`
}

// beijing is the zone of foot.operationTime (the service is in China).
var beijing = time.FixedZone("CST", 8*3600)

func (e *Emulator) reply(ctx *fasthttp.RequestCtx, status, code int, msg string, data any) {
	emu.WriteJSON(ctx, status, Envelope{
		Code: code, Message: msg, Data: data,
		Foot: Foot{OperationTime: e.core.Now().In(beijing).Format(time.DateTime), ServicePhone: "400800400", Host: e.cfg.Host},
	})
}

func (e *Emulator) serve(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != Path {
		e.reply(ctx, fasthttp.StatusNotFound, CodeNotFound, "接口不存在: "+string(ctx.Path()), nil)
		return
	}
	if !ctx.IsPost() {
		e.reply(ctx, fasthttp.StatusMethodNotAllowed, CodeMethod, "请求方式不支持: "+string(ctx.Method()), nil)
		return
	}
	if msg := e.auth(ctx); msg != "" {
		e.reply(ctx, 200, CodeAuth, msg, nil)
		return
	}
	m, msg := validate(ctx.PostBody())
	if msg != "" {
		e.reply(ctx, 200, CodeParam, "参数错误: "+msg, nil)
		return
	}
	id := e.core.NewIDString()
	e.core.Inbox.Add(emu.Message{
		Vendor: Vendor, Path: Path, From: m.from, To: []string{m.userID},
		Type: strconv.Itoa(m.messageType), Body: ctx.PostBody(), ID: id,
	})
	e.reply(ctx, 200, CodeOK, "成功", Data{GetMessageID: id})
}

// auth checks client, token and sign, then the forced-expiry fault; it
// returns the refusal message or "".
func (e *Emulator) auth(ctx *fasthttp.RequestCtx) string {
	q := ctx.QueryArgs()
	client, token := string(q.Peek("client")), string(q.Peek("token"))
	switch want, known := e.cfg.Clients[client]; {
	case client == "":
		return "鉴权失败: client不能为空"
	case token == "":
		return "鉴权失败: token不能为空"
	case !known:
		return "鉴权失败: client不存在"
	case subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1:
		return "鉴权失败: token错误"
	case e.cfg.CheckSign != nil && !e.cfg.CheckSign(q, ctx.PostBody()):
		return "鉴权失败: sign错误"
	case e.core.Faults.TakeExpiry():
		return "鉴权失败: token已失效"
	}
	return ""
}

type message struct {
	messageType  int
	from, userID string
}

// validate checks the documented fields and returns the refusal detail or
// "". Jackson-style coercions are tolerated: numbers in numeric strings,
// booleans in "true"/"false", ids given as numbers. messageInfo may be any
// JSON object: its per-type layout is not documented. [ASSUMPTION]
func validate(body []byte) (message, string) {
	var m message
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return m, "请求体不是合法的JSON对象"
	}
	t, ok := integer(req["messageType"])
	switch {
	case !present(req["messageType"]):
		return m, "messageType不能为空"
	case !ok || t < 1 || t > 10:
		return m, "messageType必须是1到10的整数"
	}
	m.messageType = t
	if m.from, ok = id(req["from"]); !ok {
		return m, "from不能为空"
	}
	if m.userID, ok = id(req["userId"]); !ok {
		return m, "userId不能为空"
	}
	switch k := kind(req["isDisturb"]); {
	case k == 0 || k == 'n':
		return m, "isDisturb不能为空"
	case k == 't' || k == 'f':
	case k == '"':
		var s string
		_ = json.Unmarshal(req["isDisturb"], &s)
		if s != "true" && s != "false" {
			return m, "isDisturb必须是布尔值"
		}
	default:
		return m, "isDisturb必须是布尔值"
	}
	switch kind(req["messageInfo"]) {
	case 0, 'n':
		return m, "messageInfo不能为空"
	case '{':
	default:
		return m, "messageInfo必须是JSON对象"
	}
	if k := kind(req["ext"]); k != 0 && k != 'n' && k != '{' {
		return m, "ext必须是JSON对象"
	}
	return m, ""
}

func present(raw json.RawMessage) bool { k := kind(raw); return k != 0 && k != 'n' }

// kind returns the first byte of a JSON value ('1' for numbers, 0 when
// absent).
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	if c := raw[0]; c == '-' || (c >= '0' && c <= '9') {
		return '1'
	}
	return raw[0]
}

// integer reads a JSON integer or a string holding one.
func integer(raw json.RawMessage) (int, bool) {
	s := string(bytes.TrimSpace(raw))
	if kind(raw) == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	} else if kind(raw) != '1' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// id reads a non-empty string, or a number as its decimal text.
func id(raw json.RawMessage) (string, bool) {
	switch kind(raw) {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return "", false
		}
		return s, true
	case '1':
		return string(bytes.TrimSpace(raw)), true
	}
	return "", false
}
