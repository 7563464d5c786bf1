package easemob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

var errNotObject = errors.New("easemob: request body is not a JSON object")

// kind is what a current send endpoint sends to.
type kind struct {
	path   string // after /{org}/{app}
	target string // inbox Target
	max    int    // recipients per call
}

var (
	kindUsers    = kind{"/messages/users", "users", MaxUsers}
	kindGroups   = kind{"/messages/chatgroups", "chatgroups", MaxGroups}
	kindRooms    = kind{"/messages/chatrooms", "chatrooms", MaxRooms}
	kindDirected = kind{"/messages/chatgroups/users", "chatgroups/users", MaxGroups}
)

// sendReply is the success envelope of the current send endpoints, fields
// in the vendor's order.
type sendReply struct {
	Path            string            `json:"path"`
	URI             string            `json:"uri"`
	Timestamp       int64             `json:"timestamp"`
	Organization    string            `json:"organization"`
	Application     string            `json:"application"`
	Action          string            `json:"action"`
	Data            map[string]string `json:"data"`
	Duration        int64             `json:"duration"`
	ApplicationName string            `json:"applicationName"`
}

// legacyReply is the success envelope of the legacy /messages endpoint.
type legacyReply struct {
	Action          string            `json:"action"`
	Application     string            `json:"application"`
	Path            string            `json:"path"`
	URI             string            `json:"uri"`
	Entities        []struct{}        `json:"entities"`
	Data            map[string]string `json:"data"`
	Timestamp       int64             `json:"timestamp"`
	Duration        int64             `json:"duration"`
	Organization    string            `json:"organization"`
	ApplicationName string            `json:"applicationName"`
}

// current serves POST /{org}/{app}/messages/{users|chatgroups|chatrooms}
// and /messages/chatgroups/users.
func (e *Emulator) current(k kind) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		var req map[string]json.RawMessage
		if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req == nil {
			e.fail(ctx, errRequestBody)
			return
		}
		from, ae, ok := sender(req["from"], errSend("param from can't be empty"))
		if !ok {
			e.fail(ctx, ae)
			return
		}
		to, ok := ids(req["to"])
		if !ok {
			e.fail(ctx, errRequestBody)
			return
		}
		if len(to) == 0 {
			e.fail(ctx, errSend("param to can't be empty"))
			return
		}
		typ, ok := str(req["type"])
		if !ok && present(req["type"]) {
			e.fail(ctx, errRequestBody)
			return
		}
		if typ == "" {
			e.fail(ctx, errSend("param type can't be empty"))
			return
		}
		body := req["body"]
		switch jsonKind(body) {
		case '{':
			if isEmptyObject(body) {
				e.fail(ctx, errSend("param body can't be empty"))
				return
			}
		case 0, 'n':
			e.fail(ctx, errSend("param body can't be empty"))
			return
		default:
			e.fail(ctx, errRequestBody)
			return
		}
		ext := req["ext"]
		if len(ext) > 0 && jsonKind(ext) != '{' { // null too
			e.fail(ctx, errSend("param ext must be JSONObject"))
			return
		}
		if len(to) > k.max {
			e.fail(ctx, errSend(fmt.Sprintf("params to's size can't exceed limit %d", k.max)))
			return
		}
		if k == kindDirected {
			users, ok := ids(req["users"])
			switch {
			case !ok:
				e.fail(ctx, errRequestBody)
				return
			case len(users) == 0:
				e.fail(ctx, errSend("param users can't be empty"))
				return
			case len(users) > MaxDirected:
				e.fail(ctx, errSend(fmt.Sprintf("params users's size can't exceed limit %d", MaxDirected)))
				return
			}
		}
		if msg := checkBody(typ, body); msg != "" {
			e.fail(ctx, errSend(msg))
			return
		}
		if ae, ok := checkOptions(req); !ok {
			e.fail(ctx, ae)
			return
		}
		if len(body)+len(ext) > MaxMessageSize {
			e.fail(ctx, errTooLarge)
			return
		}
		if !e.core.Faults.TakeMessages(len(to)) {
			e.fail(ctx, errSendLimit)
			return
		}
		data := e.accept(ctx, k.target, from, typ, to)
		emu.WriteJSON(ctx, fasthttp.StatusOK, sendReply{
			Path: k.path, URI: e.uri(ctx, k.path), Timestamp: e.core.Now().UnixMilli(),
			Organization: e.cfg.Org, Application: e.cfg.Application, Action: "post",
			Data: data, ApplicationName: e.cfg.App,
		})
	}
}

// legacy serves POST /{org}/{app}/messages[?useMsgId=true].
func (e *Emulator) legacy(ctx *fasthttp.RequestCtx) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req == nil {
		if err == nil {
			err = errNotObject
		}
		e.fail(ctx, errJSONParse(err))
		return
	}
	tt, _ := str(req["target_type"])
	if tt != "users" && tt != "chatgroups" && tt != "chatrooms" {
		e.fail(ctx, errIllegal("target_type can only be 'users' or 'chatgroups' or 'chatrooms'"))
		return
	}
	to, ok := ids(req["target"])
	if !ok || len(to) == 0 {
		e.fail(ctx, errIllegal("target can't be empty"))
		return
	}
	if len(to) > MaxLegacy {
		e.fail(ctx, errIllegal(fmt.Sprintf("target's size can't exceed limit %d", MaxLegacy)))
		return
	}
	from, ae, ok := sender(req["from"], errIllegal("from can't be empty"))
	if !ok {
		e.fail(ctx, ae)
		return
	}
	var msg map[string]json.RawMessage
	if jsonKind(req["msg"]) != '{' || json.Unmarshal(req["msg"], &msg) != nil || len(msg) == 0 {
		e.fail(ctx, errIllegal("msg can't be empty"))
		return
	}
	typ, _ := str(msg["type"])
	if typ == "" {
		e.fail(ctx, errIllegal("msg type can't be empty"))
		return
	}
	delete(msg, "type")
	flat, _ := json.Marshal(msg) // re-encoding decoded raw values cannot fail
	if m := checkBody(typ, flat); m != "" {
		e.fail(ctx, errIllegal(m))
		return
	}
	ext := req["ext"]
	if len(ext) > 0 && jsonKind(ext) != '{' { // null too
		e.fail(ctx, errIllegal("ext must be JSONObject"))
		return
	}
	if ae, ok := checkOptions(req); !ok {
		e.fail(ctx, ae)
		return
	}
	if len(req["msg"])+len(ext) > MaxMessageSize {
		e.fail(ctx, errTooLarge)
		return
	}
	if !e.core.Faults.TakeMessages(len(to)) {
		e.fail(ctx, errSendLimit)
		return
	}
	data := e.accept(ctx, tt, from, typ, to)
	if !bytes.EqualFold(ctx.QueryArgs().Peek("useMsgId"), []byte("true")) {
		for k := range data {
			data[k] = "success"
		}
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, legacyReply{
		Action: "post", Application: e.cfg.Application, Path: "/messages", URI: e.uri(ctx, "/messages"),
		Entities: []struct{}{}, Data: data, Timestamp: e.core.Now().UnixMilli(),
		Organization: e.cfg.Org, ApplicationName: e.cfg.App,
	})
}

// accept records one inbox entry per distinct recipient and returns the
// recipient → message id map of the answer.
func (e *Emulator) accept(ctx *fasthttp.RequestCtx, target, from, typ string, to []string) map[string]string {
	data := make(map[string]string, len(to))
	path := string(ctx.Path())
	for _, r := range to {
		if _, dup := data[r]; dup {
			continue
		}
		id := e.core.NewIDString()
		data[r] = id
		e.core.Inbox.Add(emu.Message{
			Vendor: Vendor, Path: path, From: from, To: []string{r}, Target: target,
			Type: typ, Body: ctx.PostBody(), ID: id,
		})
	}
	return data
}

func (e *Emulator) uri(ctx *fasthttp.RequestCtx, path string) string {
	return "http://" + string(ctx.Host()) + "/" + e.cfg.Org + "/" + e.cfg.App + path
}

// sender applies the from rules: absent or null → "admin"; "" → empty
// (the vendor's 400); not a string → invalid body.
func sender(raw json.RawMessage, empty apiError) (string, apiError, bool) {
	if !present(raw) {
		return "admin", apiError{}, true
	}
	s, ok := str(raw)
	if !ok {
		return "", errRequestBody, false
	}
	if s == "" {
		return "", empty, false
	}
	return s, apiError{}, true
}

var customEvent = regexp.MustCompile(`^[a-zA-Z0-9\-_/.]{1,32}$`)

// checkBody validates a message body for its type and returns the error
// description, or "" when it is fine. The vendor documents which fields
// are required; the wording of these descriptions is an [ASSUMPTION].
func checkBody(typ string, body json.RawMessage) string {
	var b map[string]json.RawMessage
	if json.Unmarshal(body, &b) != nil {
		return "param body can't be empty"
	}
	need := func(fields ...string) string {
		for _, f := range fields {
			if s, ok := str(b[f]); !ok || s == "" {
				return "param body." + f + " can't be empty"
			}
		}
		return ""
	}
	switch typ {
	case "txt":
		if _, ok := str(b["msg"]); !ok {
			return "param body.msg can't be empty"
		}
	case "img", "audio", "video", "file":
		return need("url")
	case "loc":
		for _, f := range []string{"lat", "lng"} {
			// The vendor documents strings; numbers are tolerated.
			if k := jsonKind(b[f]); k != '"' && k != '1' {
				return "param body." + f + " can't be empty"
			}
		}
		return need("addr")
	case "cmd":
		return need("action")
	case "custom":
		if present(b["customEvent"]) {
			if s, ok := str(b["customEvent"]); !ok || !customEvent.MatchString(s) {
				return "param body.customEvent must match [a-zA-Z0-9-_/\\.]{1,32}"
			}
		}
		if present(b["customExts"]) {
			var exts map[string]string
			if json.Unmarshal(b["customExts"], &exts) != nil || exts == nil {
				return "param body.customExts must be Map<String,String>"
			}
			if len(exts) > 16 {
				return "param body.customExts can't exceed 16 entries"
			}
		}
	default:
		return "param type is invalid"
	}
	return ""
}

// checkOptions type-checks the optional envelope fields.
func checkOptions(req map[string]json.RawMessage) (apiError, bool) {
	for _, f := range []string{"sync_device", "need_group_ack"} {
		if k := jsonKind(req[f]); present(req[f]) && k != 't' && k != 'f' {
			return errRequestBody, false
		}
	}
	for _, f := range []string{"routetype", "chatroom_msg_level"} {
		if _, ok := str(req[f]); present(req[f]) && !ok {
			return errRequestBody, false
		}
	}
	if lvl, _ := str(req["chatroom_msg_level"]); lvl != "" && !slices.Contains([]string{"high", "normal", "low"}, lvl) {
		return errSend("param chatroom_msg_level must be high, normal or low"), false
	}
	if present(req["roam_ignore_users"]) {
		if _, ok := ids(req["roam_ignore_users"]); !ok {
			return errRequestBody, false
		}
	}
	return apiError{}, true
}

// present reports a field that is there and not null.
func present(raw json.RawMessage) bool { k := jsonKind(raw); return k != 0 && k != 'n' }

// jsonKind returns the first byte of a JSON value: '{', '[', '"', 't',
// 'f', 'n', '1' for any number, or 0 when raw is empty.
func jsonKind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 't', 'f', 'n':
		return c
	default:
		return '1'
	}
}

func isEmptyObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && len(m) == 0
}

// str reads a JSON string; ok is false for anything else.
func str(raw json.RawMessage) (string, bool) {
	if jsonKind(raw) != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ids reads an array of non-empty strings; absent or null gives none.
func ids(raw json.RawMessage) ([]string, bool) {
	if !present(raw) {
		return nil, true
	}
	var out []string
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &out) != nil {
		return nil, false
	}
	for _, s := range out {
		if s == "" {
			return nil, false
		}
	}
	return out, true
}
