package netease

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Conversation types of v2 conversation ids.
const (
	ConvP2P       = 1
	ConvTeam      = 2
	ConvSuperTeam = 3
)

// MaxDescLen caps the text of a non-text v2 message (its description).
const MaxDescLen = 500

var convTargets = map[int]string{ConvP2P: "p2p", ConvTeam: "team", ConvSuperTeam: "superteam"}

// v2Msg is a validated v2 message.
type v2Msg struct {
	typ        int
	subType    *int64
	text       string
	hasText    bool
	attachment json.RawMessage
	clientID   string
}

// v2Data is a sent message as v2 answers it.
type v2Data struct {
	MessageServerID  int64           `json:"message_server_id"`
	MessageClientID  string          `json:"message_client_id"`
	SenderID         string          `json:"sender_id"`
	ConversationType int             `json:"conversation_type"`
	ReceiverID       string          `json:"receiver_id"`
	CreateTime       int64           `json:"create_time"`
	MessageType      int             `json:"message_type"`
	SubType          *int64          `json:"sub_type,omitempty"`
	Text             *string         `json:"text,omitempty"`
	Attachment       json.RawMessage `json:"attachment,omitempty"`
}

type v2Answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
	Data any    `json:"data"`
}

type v2Batch struct {
	SuccessList []v2Data   `json:"success_list"`
	FailedList  []v2Failed `json:"failed_list"`
}

type v2Failed struct {
	ReceiverID string `json:"receiver_id"`
	ErrorCode  int    `json:"error_code"`
	ErrorMsg   string `json:"error_msg"`
}

// parseConvID splits sender_id|conversation_type|receiver_id.
func parseConvID(id string) (sender string, typ int, receiver string, err *apiError) {
	parts := strings.Split(id, "|")
	if len(parts) != 3 {
		return "", 0, "", errParam("conversation_id: want sender_id|conversation_type|receiver_id, got %q", id)
	}
	switch parts[1] {
	case "1", "2", "3":
		typ = int(parts[1][0] - '0')
	default:
		return "", 0, "", errParam("conversation_id: conversation_type must be 1, 2 or 3, got %q", parts[1])
	}
	if err := checkAccid("conversation_id sender_id", parts[0]); err != nil {
		return "", 0, "", err
	}
	if err := checkAccid("conversation_id receiver_id", parts[2]); err != nil {
		return "", 0, "", err
	}
	return parts[0], typ, parts[2], nil
}

// jsonBody parses the request body as a JSON object, whatever the
// Content-Type says.
func jsonBody(ctx *fasthttp.RequestCtx) (gjson.Result, *apiError) {
	b := ctx.PostBody()
	if len(b) == 0 {
		return gjson.Result{}, errParam("body: required")
	}
	if !gjson.ValidBytes(b) {
		return gjson.Result{}, errParam("body: not JSON")
	}
	root := gjson.ParseBytes(b)
	if !root.IsObject() {
		return gjson.Result{}, errParam("body: not a JSON object")
	}
	return root, nil
}

// isInt reports whether v is a JSON number holding an integer.
func isInt(v gjson.Result) bool {
	return v.Type == gjson.Number && v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1<<53
}

// checkV2Message validates the message object of both v2 calls.
func checkV2Message(m gjson.Result) (v2Msg, *apiError) {
	var out v2Msg
	if !m.Exists() {
		return out, errParam("message: required")
	}
	if !m.IsObject() {
		return out, errParam("message: must be an object")
	}
	mt := m.Get("message_type")
	if !mt.Exists() {
		return out, errParam("message.message_type: required")
	}
	if !isInt(mt) || !validType(int(mt.Num)) {
		return out, errParam("message.message_type: must be one of 0, 1, 2, 3, 4, 6, 10, 100")
	}
	out.typ = int(mt.Num)

	if st := m.Get("sub_type"); st.Exists() && st.Type != gjson.Null {
		if !isInt(st) || st.Num < 0 {
			return out, errParam("message.sub_type: must be a non-negative integer")
		}
		n := int64(st.Num)
		out.subType = &n
	}

	text := m.Get("text")
	if text.Exists() && text.Type != gjson.Null {
		if text.Type != gjson.String {
			return out, errParam("message.text: must be a string")
		}
		out.text, out.hasText = text.Str, true
	}
	switch out.typ {
	case TypeText, TypeTip:
		if out.text == "" {
			return out, errParam("message.text: required for message_type %d", out.typ)
		}
		if n := utf8.RuneCountInString(out.text); n > MaxBodyLen {
			return out, errParam("message.text: %d characters, at most %d", n, MaxBodyLen)
		}
	default:
		if err := checkLen("message.text", out.text, MaxDescLen); err != nil {
			return out, err
		}
	}

	att := m.Get("attachment")
	hasAtt := att.Exists() && att.Type != gjson.Null
	switch out.typ {
	case TypeText, TypeTip:
	case TypeCustom:
		if !hasAtt {
			return out, errParam("message.attachment: required for custom messages")
		}
		if !att.IsObject() && att.Type != gjson.String {
			return out, errParam("message.attachment: must be an object or a string")
		}
	default:
		if !hasAtt {
			return out, errParam("message.attachment: required for message_type %d", out.typ)
		}
		if !att.IsObject() {
			return out, errParam("message.attachment: must be an object")
		}
		if err := checkRules("message.attachment", att, v2Rules[out.typ]); err != nil {
			return out, err
		}
		if out.typ == TypeLocation {
			if err := checkLatLng("message.attachment", att); err != nil {
				return out, err
			}
		}
	}
	if hasAtt {
		out.attachment = json.RawMessage(att.Raw)
	}

	if cid := m.Get("message_client_id"); cid.Exists() && cid.Type != gjson.Null {
		if cid.Type != gjson.String {
			return out, errParam("message.message_client_id: must be a string")
		}
		out.clientID = cid.Str
	}
	return out, nil
}

// checkPushConfig checks the lengths NetEase documents for push_config.
func checkPushConfig(root gjson.Result) *apiError {
	pc := root.Get("push_config")
	if !pc.Exists() || pc.Type == gjson.Null {
		return nil
	}
	if !pc.IsObject() {
		return errParam("push_config: must be an object")
	}
	if v := pc.Get("push_content"); v.Type == gjson.String {
		if err := checkLen("push_config.push_content", v.Str, MaxPushLen); err != nil {
			return err
		}
	}
	if v := pc.Get("push_payload"); v.Exists() && v.Type != gjson.Null {
		if err := checkLen("push_config.push_payload", payloadText(v), MaxPayloadLen); err != nil {
			return err
		}
	}
	return nil
}

// payloadText is the text of a push payload, sent as a string or an object.
func payloadText(v gjson.Result) string {
	if v.Type == gjson.String {
		return v.Str
	}
	return v.Raw
}

// data builds the answer for one sent message.
func (m *v2Msg) data(id int64, now int64, sender string, convType int, receiver string) v2Data {
	d := v2Data{
		MessageServerID:  id,
		MessageClientID:  m.clientID,
		SenderID:         sender,
		ConversationType: convType,
		ReceiverID:       receiver,
		CreateTime:       now,
		MessageType:      m.typ,
		SubType:          m.subType,
		Attachment:       m.attachment,
	}
	if d.MessageClientID == "" {
		d.MessageClientID = fmt.Sprintf("%032x", id)
	}
	if m.hasText {
		t := m.text
		d.Text = &t
	}
	return d
}

// sendV2 serves POST /im/v2/conversations/{conversation_id}/messages.
func (e *Emulator) sendV2(ctx *fasthttp.RequestCtx, r *route) *apiError {
	sender, convType, receiver, err := parseConvID(r.convID)
	if err != nil {
		return err
	}
	root, err := jsonBody(ctx)
	if err != nil {
		return err
	}
	msg, err := checkV2Message(root.Get("message"))
	if err != nil {
		return err
	}
	if err := checkPushConfig(root); err != nil {
		return err
	}
	if e.unregistered[sender] {
		return &apiError{CodeNotFound, "sender_id: account not registered"}
	}
	if convType == ConvP2P && e.unregistered[receiver] {
		return &apiError{CodeNotFound, "receiver_id: account not registered"}
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	id := e.core.NewID()
	d := msg.data(id, e.core.Now().UnixMilli(), sender, convType, receiver)
	e.core.Inbox.Add(emu.Message{
		Path:   string(ctx.Path()),
		Vendor: Vendor,
		From:   sender,
		To:     []string{receiver},
		Target: convTargets[convType],
		Type:   strconv.Itoa(msg.typ),
		Body:   json.RawMessage(root.Raw),
		ID:     strconv.FormatInt(id, 10),
	})
	emu.WriteJSON(ctx, fasthttp.StatusOK, v2Answer{Code: CodeOK, Msg: "success", Data: d})
	return nil
}

// batchSendV2 serves POST /im/v2/conversations/messages: one message to
// many P2P receivers. Unregistered receivers and receivers hit by the
// error-rate fault go to failed_list; the call itself succeeds.
func (e *Emulator) batchSendV2(ctx *fasthttp.RequestCtx, _ *route) *apiError {
	root, err := jsonBody(ctx)
	if err != nil {
		return err
	}
	sv := root.Get("sender_id")
	if sv.Exists() && sv.Type != gjson.String {
		return errParam("sender_id: must be a string")
	}
	sender := sv.Str
	if err := checkAccid("sender_id", sender); err != nil {
		return err
	}
	rv := root.Get("receiver_ids")
	if !rv.Exists() {
		return errParam("receiver_ids: required")
	}
	if !rv.IsArray() {
		return errParam("receiver_ids: must be an array")
	}
	var receivers []string
	var bad *apiError
	seen := map[string]bool{}
	rv.ForEach(func(_, x gjson.Result) bool {
		if x.Type != gjson.String {
			bad = errParam("receiver_ids: every element must be a string")
			return false
		}
		if err := checkAccid("receiver_ids element", x.Str); err != nil {
			bad = err
			return false
		}
		if !seen[x.Str] {
			seen[x.Str] = true
			receivers = append(receivers, x.Str)
		}
		return true
	})
	if bad != nil {
		return bad
	}
	switch {
	case len(receivers) == 0:
		return errParam("receiver_ids: empty")
	case len(receivers) > e.maxReceivers:
		return errParam("receiver_ids: %d receivers, at most %d", len(receivers), e.maxReceivers)
	}
	msg, err := checkV2Message(root.Get("message"))
	if err != nil {
		return err
	}
	if err := checkPushConfig(root); err != nil {
		return err
	}
	if e.unregistered[sender] {
		return &apiError{CodeNotFound, "sender_id: account not registered"}
	}
	out := v2Batch{SuccessList: []v2Data{}, FailedList: []v2Failed{}}
	now := e.core.Now().UnixMilli()
	for _, rcv := range receivers {
		switch {
		case e.unregistered[rcv]:
			out.FailedList = append(out.FailedList, v2Failed{rcv, CodeNotFound, "account not registered"})
			continue
		case e.core.Faults.Fail():
			out.FailedList = append(out.FailedList, v2Failed{rcv, CodeInternal, errInternal.desc})
			continue
		}
		id := e.core.NewID()
		out.SuccessList = append(out.SuccessList, msg.data(id, now, sender, ConvP2P, rcv))
		e.core.Inbox.Add(emu.Message{
			Path:   string(ctx.Path()),
			Vendor: Vendor,
			From:   sender,
			To:     []string{rcv},
			Target: "p2p",
			Type:   strconv.Itoa(msg.typ),
			Body:   json.RawMessage(root.Raw),
			ID:     strconv.FormatInt(id, 10),
		})
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, v2Answer{Code: CodeOK, Msg: "success", Data: out})
	return nil
}
