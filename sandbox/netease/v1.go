package netease

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// form reads v1 parameters: the body is parsed as form-urlencoded whatever
// the Content-Type says (clients that omit it are understood), and a
// parameter missing from the body is looked up in the query string, as a
// servlet container would.
type form struct {
	body, query *fasthttp.Args
}

func readForm(ctx *fasthttp.RequestCtx) form {
	a := &fasthttp.Args{}
	a.ParseBytes(ctx.PostBody())
	return form{body: a, query: ctx.QueryArgs()}
}

// get returns the first of names present, body first, then query.
func (f form) get(names ...string) string {
	for _, a := range []*fasthttp.Args{f.body, f.query} {
		for _, n := range names {
			if a.Has(n) {
				return string(a.Peek(n))
			}
		}
	}
	return ""
}

// jsonFields are the v1 parameters that carry JSON; the inbox shows them
// decoded.
var jsonFields = map[string]bool{
	"body": true, "option": true, "payload": true, "antispamCustom": true,
	"forcepushlist": true, "forcePushList": true, "toAccids": true,
}

// inboxBody renders every parameter the call carried as one JSON object,
// with the JSON-carrying ones decoded.
func (f form) inboxBody() json.RawMessage {
	m := map[string]json.RawMessage{}
	for _, a := range []*fasthttp.Args{f.query, f.body} { // body wins
		a.VisitAll(func(k, v []byte) {
			if jsonFields[string(k)] && gjson.ValidBytes(v) {
				m[string(k)] = json.RawMessage(slices.Clone(v))
				return
			}
			m[string(k)], _ = json.Marshal(string(v))
		})
	}
	b, _ := json.Marshal(m)
	return b
}

// checkV1Options validates the optional parameters shared by sendMsg and
// sendBatchMsg. Both spellings seen in the wild are read (the old docs'
// pushcontent, the SDKs' pushContent).
func checkV1Options(f form) *apiError {
	if err := checkLen("msgDesc", f.get("msgDesc"), MaxMsgDescLen); err != nil {
		return err
	}
	if err := checkLen("pushcontent", f.get("pushcontent", "pushContent"), MaxPushLen); err != nil {
		return err
	}
	if err := checkLen("forcepushcontent", f.get("forcepushcontent", "forcePushContent"), MaxPushLen); err != nil {
		return err
	}
	if p := f.get("payload"); p != "" {
		if err := checkLen("payload", p, MaxPayloadLen); err != nil {
			return err
		}
		if !gjson.Valid(p) || !gjson.Parse(p).IsObject() {
			return errParam("payload: not a JSON object")
		}
	}
	for _, name := range []string{"option", "antispamCustom"} {
		if v := f.get(name); v != "" && (!gjson.Valid(v) || !gjson.Parse(v).IsObject()) {
			return errParam("%s: not a JSON object", name)
		}
	}
	if v := f.get("forcepushlist", "forcePushList"); v != "" {
		if _, err := parseAccids("forcepushlist", v); err != nil {
			return err
		}
	}
	return nil
}

// parseAccids parses a JSON array of accids given as a string.
func parseAccids(name, v string) ([]string, *apiError) {
	if !gjson.Valid(v) || !gjson.Parse(v).IsArray() {
		return nil, errParam("%s: not a JSON array", name)
	}
	var out []string
	var bad *apiError
	gjson.Parse(v).ForEach(func(_, x gjson.Result) bool {
		if x.Type != gjson.String {
			bad = errParam("%s: every element must be a string", name)
			return false
		}
		if err := checkAccid(name+" element", x.Str); err != nil {
			bad = err
			return false
		}
		out = append(out, x.Str)
		return true
	})
	return out, bad
}

// v1TypeBody checks what sendMsg and sendBatchMsg share: type and body.
func v1TypeBody(f form) (int, *apiError) {
	ts := f.get("type")
	if ts == "" {
		return 0, errParam("type: required")
	}
	typ, ok := parseType(ts)
	if !ok {
		return 0, errParam("type: must be one of 0, 1, 2, 3, 4, 6, 10, 100")
	}
	if err := checkV1Body(typ, f.get("body")); err != nil {
		return 0, err
	}
	return typ, nil
}

type sendMsgAnswer struct {
	Code int         `json:"code"`
	Data sendMsgData `json:"data"`
}

type sendMsgData struct {
	MsgID    int64 `json:"msgid"`
	TimeTag  int64 `json:"timetag"`
	Antispam bool  `json:"antispam"`
}

// sendMsg serves POST /nimserver/msg/sendMsg.action.
func (e *Emulator) sendMsg(ctx *fasthttp.RequestCtx, _ *route) *apiError {
	f := readForm(ctx)
	from := f.get("from")
	if err := checkAccid("from", from); err != nil {
		return err
	}
	ope := f.get("ope")
	if ope == "" {
		return errParam("ope: required")
	}
	if ope != "0" && ope != "1" {
		return errParam("ope: must be 0 (P2P) or 1 (team)")
	}
	to := f.get("to")
	if err := checkAccid("to", to); err != nil {
		return err
	}
	typ, err := v1TypeBody(f)
	if err != nil {
		return err
	}
	if err := checkV1Options(f); err != nil {
		return err
	}
	if e.unregistered[from] {
		return &apiError{CodeNotFound, "from: account not registered"}
	}
	if ope == "0" && e.unregistered[to] {
		return &apiError{CodeNotFound, "to: account not registered"}
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	id := e.core.NewID()
	target := "p2p"
	if ope == "1" {
		target = "team"
	}
	e.core.Inbox.Add(emu.Message{
		Path:   string(ctx.Path()),
		Vendor: Vendor,
		From:   from,
		To:     []string{to},
		Target: target,
		Type:   strconv.Itoa(typ),
		Body:   f.inboxBody(),
		ID:     strconv.FormatInt(id, 10),
	})
	emu.WriteJSON(ctx, fasthttp.StatusOK, sendMsgAnswer{
		Code: CodeOK,
		Data: sendMsgData{MsgID: id, TimeTag: e.core.Now().UnixMilli()},
	})
	return nil
}

type sendBatchAnswer struct {
	Code       int              `json:"code"`
	Unregister []string         `json:"unregister"`
	TimeTag    int64            `json:"timetag"`
	MsgIDs     map[string]int64 `json:"msgids,omitempty"`
}

// sendBatchMsg serves POST /nimserver/msg/sendBatchMsg.action.
func (e *Emulator) sendBatchMsg(ctx *fasthttp.RequestCtx, _ *route) *apiError {
	if !e.batch.take(e.core.Now()) {
		return &apiError{CodeFreqControl, descFreq}
	}
	f := readForm(ctx)
	from := f.get("fromAccid")
	if err := checkAccid("fromAccid", from); err != nil {
		return err
	}
	raw := f.get("toAccids")
	if raw == "" {
		return errParam("toAccids: required")
	}
	to, err := parseAccids("toAccids", raw)
	if err != nil {
		return err
	}
	returnIDs := strings.EqualFold(f.get("returnMsgid"), "true")
	limit := MaxBatchV1
	if returnIDs {
		limit = MaxBatchV1WithID
	}
	switch {
	case len(to) == 0:
		return errParam("toAccids: empty")
	case len(to) > limit:
		return errParam("toAccids: %d accounts, at most %d", len(to), limit)
	}
	typ, err := v1TypeBody(f)
	if err != nil {
		return err
	}
	if err := checkV1Options(f); err != nil {
		return err
	}
	if e.unregistered[from] {
		return &apiError{CodeNotFound, "fromAccid: account not registered"}
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	ans := sendBatchAnswer{Code: CodeOK, Unregister: []string{}, TimeTag: e.core.Now().UnixMilli()}
	if returnIDs {
		ans.MsgIDs = map[string]int64{}
	}
	body := f.inboxBody()
	seen := make(map[string]bool, len(to))
	for _, acc := range to {
		if seen[acc] {
			continue
		}
		seen[acc] = true
		if e.unregistered[acc] {
			ans.Unregister = append(ans.Unregister, acc)
			continue
		}
		id := e.core.NewID()
		if returnIDs {
			ans.MsgIDs[acc] = id
		}
		e.core.Inbox.Add(emu.Message{
			Path:   string(ctx.Path()),
			Vendor: Vendor,
			From:   from,
			To:     []string{acc},
			Target: "p2p",
			Type:   strconv.Itoa(typ),
			Body:   body,
			ID:     strconv.FormatInt(id, 10),
		})
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, ans)
	return nil
}
