// Package opapp emulates the in-house batch relay to Easemob that imrelay
// calls the opapp dialect: POST /opapp/send2EasemobMessage with the
// caller's client id and channel in the query and a list of messages in
// the body. Messages are accepted or refused one by one: when some fail,
// the answer is code 500 with the failed messages echoed in data. See
// README.md for what is emulated and which behaviours are assumptions.
package opapp

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Vendor is the name stamped on inbox entries.
const Vendor = "opapp"

// Path is the one endpoint.
const Path = "/opapp/send2EasemobMessage"

// Demo credentials, used when Config leaves them empty.
const (
	DemoClient  = "5f2b9c1e8a7d4e3fb6c0a1d2e3f40003"
	DemoChannel = "9a8b7c6d5e4f40a1b2c3d4e5f6a70004"
)

// Codes of the envelope. The seed documents 200 and 500 (partial or total
// failure of the messages); the others are the emulator's choice.
// [ASSUMPTION]
const (
	CodeOK        = 200
	CodeParam     = 400 // the request itself is unusable
	CodeAuth      = 401 // client, channel or sign refused; forced expiry
	CodeNotFound  = 404
	CodeMethod    = 405
	CodeRateLimit = 429
	CodeFailed    = 500 // some messages failed; they are echoed in data
)

// MsgTypes are the message types the relay accepts.
var MsgTypes = []string{"txt", "audio", "img", "loc", "video", "file", "cmd"}

// MaxMessages caps the messages of one call. The seed sets none; the cap
// only keeps the emulator bounded. [ASSUMPTION]
const MaxMessages = 1000

// ErrConfig is returned by [New] for an unusable configuration.
var ErrConfig = errors.New("opapp: bad config")

// Config configures an [Emulator].
type Config struct {
	// Clients maps each accepted client id to its channel. Empty means
	// {DemoClient: DemoChannel}.
	Clients map[string]string
	// CheckSign, when set, must accept a call's query and body, or the
	// call is refused with CodeAuth. The sign scheme is not documented, so
	// by default any sign, or none, is accepted. [ASSUMPTION]
	CheckSign func(query *fasthttp.Args, body []byte) bool
	// Host is foot.host in every answer; empty means "imrelay-sandbox".
	Host string
	// Emu configures the core: fault seed, clock, sleep, inbox size. The
	// error_rate fault applies to each message, not to the call.
	Emu emu.Config
}

// Emulator is one opapp relay.
type Emulator struct {
	core *emu.Core
	cfg  Config
}

// New returns an emulator.
func New(cfg Config) (*Emulator, error) {
	if len(cfg.Clients) == 0 {
		cfg.Clients = map[string]string{DemoClient: DemoChannel}
	}
	for c, ch := range cfg.Clients {
		if c == "" || ch == "" {
			return nil, fmt.Errorf("%w: client id and channel must not be empty", ErrConfig)
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
	Clients map[string]string `json:"clients"` // client id → channel
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
// applied, and the sandbox admin surface under emu.Prefix. error_rate is
// drawn per message (partial failure on demand), not per call.
func (e *Emulator) Handler() fasthttp.RequestHandler {
	return e.core.Handler(e.serve, emu.Answers{
		Limited: func(ctx *fasthttp.RequestCtx) { e.reply(ctx, 200, CodeRateLimit, "请求过于频繁", nil, true) },
	}, func() any { return e.Info() })
}

// Foot is the house footer of every answer.
type Foot struct {
	OperationTime string `json:"operationTime"`
	ServicePhone  string `json:"servicePhone"`
	Host          string `json:"host"`
}

// Envelope is the house answer. The seed's failure example has no page
// field, its success example has "page": null; both are kept.
type Envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
	Page    *any   `json:"page,omitempty"`
	Foot    Foot   `json:"foot"`
}

var beijing = time.FixedZone("CST", 8*3600)

func (e *Emulator) reply(ctx *fasthttp.RequestCtx, status, code int, msg string, data any, page bool) {
	env := Envelope{
		Code: code, Message: msg, Data: data,
		Foot: Foot{OperationTime: e.core.Now().In(beijing).Format(time.DateTime), ServicePhone: "400800400", Host: e.cfg.Host},
	}
	if page {
		env.Page = new(any)
	}
	emu.WriteJSON(ctx, status, env)
}

// Echo is a failed message as the relay echoes it: its own model
// re-serialised, so absent strings come back as "" and a null ext as "".
type Echo struct {
	MsgType string   `json:"msgType"`
	MsgBody EchoBody `json:"msgBody"`
	FileURL string   `json:"fileUrl"`
}

// EchoBody is the echoed msgBody, in the seed's field order.
type EchoBody struct {
	ToUser     string          `json:"toUser"`
	FromUser   string          `json:"fromUser"`
	MsgType    string          `json:"msgType"`
	Msg        string          `json:"msg"`
	MediaFile  string          `json:"mediaFile"`
	Ext        json.RawMessage `json:"ext"`
	TargetType string          `json:"targetType,omitempty"`
}

func (e *Emulator) serve(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != Path {
		e.reply(ctx, fasthttp.StatusNotFound, CodeNotFound, "接口不存在: "+string(ctx.Path()), nil, true)
		return
	}
	if !ctx.IsPost() {
		e.reply(ctx, fasthttp.StatusMethodNotAllowed, CodeMethod, "请求方式不支持: "+string(ctx.Method()), nil, true)
		return
	}
	if msg := e.auth(ctx); msg != "" {
		e.reply(ctx, 200, CodeAuth, msg, nil, true)
		return
	}
	var req struct {
		ReqURL   *string           `json:"reqUrl"`
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || kind(ctx.PostBody()) != '{' {
		e.reply(ctx, 200, CodeParam, "参数错误: 请求体不是合法的JSON对象", nil, true)
		return
	}
	switch {
	case req.ReqURL == nil || *req.ReqURL == "":
		e.reply(ctx, 200, CodeParam, "参数错误: reqUrl不能为空", nil, true)
		return
	case len(req.Messages) == 0:
		e.reply(ctx, 200, CodeParam, "参数错误: messages不能为空", nil, true)
		return
	case len(req.Messages) > MaxMessages:
		e.reply(ctx, 200, CodeParam, fmt.Sprintf("参数错误: messages不能超过%d条", MaxMessages), nil, true)
		return
	}
	failed := []Echo{}
	reasons := []string{}
	for _, raw := range req.Messages {
		m, reason := parse(raw)
		if reason == "" && e.core.Faults.Fail() {
			reason = "未知异常"
		}
		if reason != "" {
			failed = append(failed, m.echo())
			reasons = append(reasons, reason)
			continue
		}
		e.core.Inbox.Add(emu.Message{
			Vendor: Vendor, Path: Path, From: m.fromUser, To: []string{m.toUser}, Target: m.target,
			Type: m.msgType, Body: raw, ID: e.core.NewIDString(),
		})
	}
	if len(failed) > 0 {
		// Java's List.toString: "[a, b]".
		e.reply(ctx, 200, CodeFailed, "["+strings.Join(reasons, ", ")+"]", failed, false)
		return
	}
	e.reply(ctx, 200, CodeOK, "成功", []any{}, true)
}

// auth checks client, channel and sign, then the forced-expiry fault; it
// returns the refusal message or "".
func (e *Emulator) auth(ctx *fasthttp.RequestCtx) string {
	q := ctx.QueryArgs()
	client, channel := string(q.Peek("client")), string(q.Peek("channel"))
	switch want, known := e.cfg.Clients[client]; {
	case client == "":
		return "鉴权失败: client不能为空"
	case channel == "":
		return "鉴权失败: channel不能为空"
	case !known:
		return "鉴权失败: client不存在"
	case subtle.ConstantTimeCompare([]byte(channel), []byte(want)) != 1:
		return "鉴权失败: channel错误"
	case e.cfg.CheckSign != nil && !e.cfg.CheckSign(q, ctx.PostBody()):
		return "鉴权失败: sign错误"
	case e.core.Faults.TakeExpiry():
		return "鉴权失败: token已失效"
	}
	return ""
}

// message is one element of messages, as far as it could be read.
type message struct {
	msgType, fileURL      string
	toUser, fromUser      string
	innerType, msg, media string
	ext                   json.RawMessage
	targetType, target    string
}

func (m message) echo() Echo {
	ext := m.ext
	if kind(ext) != '{' {
		ext = json.RawMessage(`""`)
	}
	return Echo{
		MsgType: m.msgType, FileURL: m.fileURL,
		MsgBody: EchoBody{ToUser: m.toUser, FromUser: m.fromUser, MsgType: m.innerType, Msg: m.msg,
			MediaFile: m.media, Ext: ext, TargetType: m.targetType},
	}
}

// parse reads and validates one message; reason is "" when it is good.
// msgBody may be an object or a string holding one (the seed calls it "a
// JSON string"). For loc and cmd the seed documents no fields beyond the
// common ones, so none are required. [ASSUMPTION]
func parse(raw json.RawMessage) (m message, reason string) {
	var el map[string]json.RawMessage
	if kind(raw) != '{' || json.Unmarshal(raw, &el) != nil {
		return m, "消息格式错误"
	}
	m.msgType, _ = str(el["msgType"])
	m.fileURL, _ = str(el["fileUrl"])
	bodyRaw := el["msgBody"]
	if kind(bodyRaw) == '"' {
		var s string
		_ = json.Unmarshal(bodyRaw, &s)
		bodyRaw = json.RawMessage(s)
	}
	var body map[string]json.RawMessage
	bodyOK := kind(bodyRaw) == '{' && json.Unmarshal(bodyRaw, &body) == nil
	if bodyOK {
		m.toUser, _ = idStr(body["toUser"])
		m.fromUser, _ = idStr(body["fromUser"])
		m.innerType, _ = str(body["msgType"])
		m.msg, _ = str(body["msg"])
		m.media, _ = str(body["mediaFile"])
		m.ext = body["ext"]
		m.targetType, _ = str(body["targetType"])
	}
	switch {
	case m.msgType == "":
		return m, "msgType不能为空"
	case !slices.Contains(MsgTypes, m.msgType):
		return m, "msgType不支持: " + m.msgType
	case !bodyOK:
		return m, "msgBody不能为空"
	case m.fromUser == "":
		return m, "fromUser不能为空"
	case m.toUser == "":
		return m, "toUser不能为空"
	case m.innerType == "":
		return m, "msgBody.msgType不能为空"
	case m.innerType != m.msgType:
		return m, "msgBody.msgType与msgType不一致"
	case m.msgType == "txt" && m.msg == "":
		return m, "msg不能为空"
	}
	switch m.msgType {
	case "audio", "img", "video", "file":
		if m.fileURL == "" && m.media == "" {
			return m, "fileUrl不能为空"
		}
	}
	if k := kind(m.ext); k != 0 && k != 'n' && k != '{' && string(m.ext) != `""` {
		return m, "ext必须是JSON对象"
	}
	switch m.targetType {
	case "":
		m.target = "chatgroups" // the documented default
	case "users", "chatgroups":
		m.target = m.targetType
	default:
		return m, "targetType不支持: " + m.targetType
	}
	return m, ""
}

// kind returns the first byte of a JSON value ('1' for numbers, 0 when
// absent).
func kind(raw []byte) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	if c := raw[0]; c == '-' || (c >= '0' && c <= '9') {
		return '1'
	}
	return raw[0]
}

func str(raw json.RawMessage) (string, bool) {
	if kind(raw) != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// idStr reads a string, or a number as its decimal text (ids such as
// 148238038269428232 are sometimes sent unquoted).
func idStr(raw json.RawMessage) (string, bool) {
	if kind(raw) == '1' {
		return string(bytes.TrimSpace(raw)), true
	}
	return str(raw)
}
