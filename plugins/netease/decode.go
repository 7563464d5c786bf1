package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// The endpoints a NetEase client calls, as recorded in the batch's
// vendor.netease.endpoint so that the answer takes the client's form.
const (
	epV2      = "v2"       // POST /im/v2/conversations/{sender|type|receiver}/messages
	epV2Batch = "v2_batch" // POST /im/v2/conversations/messages
	epV1      = "v1"       // POST /nimserver/msg/sendMsg.action
	epV1Batch = "v1_batch" // POST /nimserver/msg/sendBatchMsg.action
)

// Paths, without the optional /nimserver prefix.
const (
	pathV2Conv  = "/im/v2/conversations/"
	pathV2Batch = "/im/v2/conversations/messages"
	pathV1      = "/msg/sendMsg.action"
	pathV1Batch = "/msg/sendBatchMsg.action"
	nimserver   = "/nimserver"
)

// Message types, the same numbers in v1 (type) and v2 (message_type).
const (
	typeText     = 0
	typeImage    = 1
	typeAudio    = 2
	typeVideo    = 3
	typeLocation = 4
	typeFile     = 6
	typeTip      = 10
	typeCustom   = 100
)

const typeList = "0 (text), 1 (image), 2 (audio), 3 (video), 4 (location), 6 (file), 10 (tip), 100 (custom)"

// kindOf maps a NetEase message type to a canonical kind ("" if unknown).
func kindOf(t int64) string {
	switch t {
	case typeText:
		return sdk.KindText
	case typeImage:
		return sdk.KindImage
	case typeAudio:
		return sdk.KindAudio
	case typeVideo:
		return sdk.KindVideo
	case typeLocation:
		return sdk.KindLocation
	case typeFile:
		return sdk.KindFile
	case typeTip:
		return sdk.KindTip
	case typeCustom:
		return sdk.KindCustom
	}
	return ""
}

// formField is one decoded name=value pair of a v1 form body.
type formField struct{ key, val string }

// content is the message itself, whichever form carried it.
type content struct {
	typ      int64
	text     string       // the text of 0/10; the description of the others
	att      gjson.Result // v2 attachment or v1 body
	where    string       // att's name in the client's terms, for errors
	textName string       // the text's name in the client's terms
	subType  int64
	clientID string
}

// DecodeRequest turns a NetEase send request into a batch of one message.
func (c *codec) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	path := str(req.Path)
	if strings.HasPrefix(path, nimserver+"/") {
		path = path[len(nimserver):]
	}
	switch {
	case path == pathV2Batch:
		return c.decodeV2(req, true, "", out)
	case strings.HasPrefix(path, pathV2Conv) && strings.HasSuffix(path, "/messages") && len(path) >= len(pathV2Conv)+len("/messages"):
		return c.decodeV2(req, false, path[len(pathV2Conv):len(path)-len("/messages")], out)
	case path == pathV1:
		return c.decodeV1(req, false, out)
	case path == pathV1Batch:
		return c.decodeV1(req, true, out)
	}
	return sdk.Error(abi.CodeNotFound, "", "netease: %s is not a message API: the codec decodes %s{id}/messages, %s, %s and %s (each with or without %s)",
		sdk.Quote(str(req.Path)), pathV2Conv, pathV2Batch, pathV1, pathV1Batch, nimserver)
}

// conversation is a parsed v2 conversation id.
type conversation struct {
	sender, receiver string
	typ              byte // '1' P2P, '2' team, '3' super team
}

// parseConversation decodes and checks the conversation id of a v2 path:
// `sender|type|receiver`, percent-encoded or not.
func (c *codec) parseConversation(raw string) (conversation, error) {
	var cv conversation
	id := raw
	if needsUnescape(raw, false) {
		start := len(c.buf)
		var ok bool
		if c.buf, ok = appendUnescape(c.buf, raw, false); !ok {
			return cv, sdk.BadField("conversation_id", "%s has a malformed percent-encoding", sdk.Quote(raw))
		}
		id = str(c.buf[start:])
	}
	sender, rest, ok1 := strings.Cut(id, "|")
	typ, receiver, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 {
		return cv, sdk.BadField("conversation_id", "%s is not sender_id|conversation_type|receiver_id", sdk.Quote(id))
	}
	if len(typ) != 1 || typ[0] < '1' || typ[0] > '3' {
		return cv, sdk.BadField("conversation_id", "conversation type %s must be 1 (P2P), 2 (team) or 3 (super team)", sdk.Quote(typ))
	}
	if why := checkAccid(sender); why != "" {
		return cv, sdk.BadField("conversation_id", "sender %s %s", sdk.Quote(sender), why)
	}
	why := checkTid(receiver)
	if typ[0] == '1' {
		why = checkAccid(receiver)
	}
	if why != "" {
		return cv, sdk.BadField("conversation_id", "receiver %s %s", sdk.Quote(receiver), why)
	}
	return conversation{sender: sender, receiver: receiver, typ: typ[0]}, nil
}

// decodeV2 decodes a v2 conversation message (convID set) or a v2 batch
// message (convID empty).
func (c *codec) decodeV2(req *sdk.Request, batch bool, convID string, out *sdk.JSON) error {
	c.buf = c.buf[:0]
	var conv conversation
	if !batch {
		var err error
		if conv, err = c.parseConversation(convID); err != nil {
			return err
		}
	}
	body := str(req.Body)
	if !gjson.Valid(body) {
		return sdk.BadField("", "the body is not valid JSON")
	}
	root := gjson.Parse(body)
	if !root.IsObject() {
		return sdk.BadField("", "the body must be a JSON object")
	}
	var message, msgConfig, pushConfig, extension, senderID, receiverIDs gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "message":
			message = v
		case "message_config":
			msgConfig = v
		case "push_config":
			pushConfig = v
		case "extension":
			extension = v
		case "sender_id":
			senderID = v
		case "receiver_ids":
			receiverIDs = v
		}
		return true
	})

	from := conv.sender
	var nReceivers int
	if batch {
		if senderID.Type != gjson.String {
			return sdk.BadField("sender_id", "is required and must be a string")
		}
		if why := checkAccid(senderID.Str); why != "" {
			return sdk.BadField("sender_id", "%s %s", sdk.Quote(senderID.Str), why)
		}
		from = senderID.Str
		if !receiverIDs.IsArray() {
			return sdk.BadField("receiver_ids", "is required and must be an array of accounts")
		}
		var err error
		receiverIDs.ForEach(func(_, v gjson.Result) bool {
			nReceivers++
			if v.Type != gjson.String {
				err = sdk.BadField("receiver_ids["+strconv.Itoa(nReceivers-1)+"]", "must be a string")
			} else if why := checkAccid(v.Str); why != "" {
				err = sdk.BadField("receiver_ids["+strconv.Itoa(nReceivers-1)+"]", "%s %s", sdk.Quote(v.Str), why)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
		if nReceivers == 0 {
			return sdk.BadField("receiver_ids", "is empty")
		}
		if nReceivers > maxBatchV2 {
			return sdk.BadField("receiver_ids", "has %d accounts: at most %d per call", nReceivers, maxBatchV2)
		}
	}

	if !message.IsObject() {
		return sdk.BadField("message", "is required and must be an object")
	}
	ct := content{where: "message.attachment", textName: "message.text"}
	var mt, st gjson.Result
	var err error
	message.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "message_type":
			mt = v
		case "text":
			if v.Type != gjson.String && v.Type != gjson.Null {
				err = sdk.BadField("message.text", "must be a string")
			}
			ct.text = v.Str
		case "attachment":
			ct.att = v
		case "sub_type":
			st = v
		case "message_client_id":
			if v.Type != gjson.String && v.Type != gjson.Null {
				err = sdk.BadField("message.message_client_id", "must be a string")
			}
			ct.clientID = v.Str
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if ct.typ, err = messageType(mt, "message.message_type"); err != nil {
		return err
	}
	if st.Exists() && st.Type != gjson.Null {
		n, ok := integer(st)
		if !ok || n < 0 {
			return sdk.BadField("message.sub_type", "must be a positive integer")
		}
		ct.subType = n
	}
	if err := checkConfig(msgConfig, "message_config"); err != nil {
		return err
	}
	if err := checkConfig(pushConfig, "push_config"); err != nil {
		return err
	}
	if extension.Exists() && extension.Type != gjson.String && extension.Type != gjson.Null {
		return sdk.BadField("extension", "must be a string")
	}

	out.Object().Key(sdk.KeyVersion).Int(sdk.ModelVersion)
	out.Key(sdk.KeyMessages).Array().Object()
	out.Key(sdk.KeyKind).String(kindOf(ct.typ))
	out.Key(sdk.KeyFrom).String(from)
	out.Key(sdk.KeyTo).Object()
	if batch {
		out.Key(sdk.ToUsers).RawString(receiverIDs.Raw)
	} else {
		list := sdk.ToUsers
		switch conv.typ {
		case '2':
			list = sdk.ToGroups
		case '3':
			list = sdk.ToRooms
		}
		out.Key(list).Array().String(conv.receiver).End()
	}
	out.End()
	if err := writeContent(out, &ct); err != nil {
		return err
	}
	// Delivery options: message_config and push_config.
	opts := optionWriter{out: out}
	if v := msgConfig.Get("history_enabled"); isBool(v) {
		opts.bool(sdk.OptHistory, v.Type == gjson.True)
	}
	if v := msgConfig.Get("roaming_enabled"); isBool(v) {
		opts.bool(sdk.OptRoam, v.Type == gjson.True)
	}
	if v := msgConfig.Get("mutil_sync_enabled"); isBool(v) {
		opts.bool(sdk.OptSyncSender, v.Type == gjson.True)
	}
	if msgConfig.Get("offline_enabled").Type == gjson.False {
		opts.bool(sdk.OptOnlineOnly, true)
	}
	if pushConfig.Get("push_enabled").Type == gjson.False {
		opts.bool(sdk.OptSilent, true)
	}
	if v := pushConfig.Get("push_content"); v.Type == gjson.String && v.Str != "" {
		opts.string(sdk.OptPushText, v.Str)
	}
	opts.end()
	extRaw := ""
	if extension.Str != "" {
		if e := strings.TrimSpace(extension.Str); gjson.Valid(e) && gjson.Parse(e).IsObject() {
			out.Key(sdk.KeyExt).RawString(e)
		} else {
			extRaw = extension.Str
		}
	}
	if ct.clientID != "" {
		out.Key(sdk.KeyID).String(ct.clientID)
	}
	// vendor.netease: the endpoint, and every member of the body the
	// model has no place for, as the client wrote it.
	ep := epV2
	if batch {
		ep = epV2Batch
	}
	n := 0
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "message", "sender_id", "receiver_ids":
			return true
		case "extension":
			if extRaw == "" {
				return true
			}
		}
		if n == 0 {
			out.Key(sdk.KeyVendor).Object().Key(sdk.DialectNetease).Object().Key("v2").Object()
		}
		n++
		out.Key(k.Str).RawString(v.Raw)
		return true
	})
	if n > 0 {
		out.End().End().End()
	}
	out.End().End()
	endBatch(out, ep)
	return nil
}

// endBatch writes the batch-level vendor.netease (the endpoint the client
// called, for EncodeResponse) and closes the batch.
func endBatch(out *sdk.JSON, ep string) {
	out.Key(sdk.KeyVendor).Object().Key(sdk.DialectNetease).Object()
	out.Key("endpoint").String(ep)
	out.End().End()
	out.End()
}

// checkConfig checks that a v2 option object, when present, is an object.
func checkConfig(v gjson.Result, name string) error {
	if v.Exists() && v.Type != gjson.Null && !v.IsObject() {
		return sdk.BadField(name, "must be an object")
	}
	return nil
}

func isBool(v gjson.Result) bool { return v.Type == gjson.True || v.Type == gjson.False }

// optionWriter writes the canonical "options" object, opening it only
// when there is something to write.
type optionWriter struct {
	out  *sdk.JSON
	open bool
}

func (o *optionWriter) key(k string) *sdk.JSON {
	if !o.open {
		o.out.Key(sdk.KeyOptions).Object()
		o.open = true
	}
	return o.out.Key(k)
}

func (o *optionWriter) bool(k string, v bool)     { o.key(k).Bool(v) }
func (o *optionWriter) string(k string, v string) { o.key(k).String(v) }

func (o *optionWriter) end() {
	if o.open {
		o.out.End()
	}
}

// integer returns v as an int64 if it is an integral JSON number or a
// decimal string.
func integer(v gjson.Result) (int64, bool) {
	var s string
	switch v.Type {
	case gjson.Number:
		s = v.Raw
	case gjson.String:
		s = v.Str
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// messageType reads a message type (number, or decimal string in forms).
func messageType(v gjson.Result, name string) (int64, error) {
	if !v.Exists() || v.Type == gjson.Null {
		return 0, sdk.BadField(name, "is required: one of %s", typeList)
	}
	t, ok := integer(v)
	if !ok || kindOf(t) == "" {
		return 0, sdk.BadField(name, "%s is not a NetEase message type: want one of %s", sdk.Quote(v.Raw), typeList)
	}
	return t, nil
}

// writeContent checks the message's text or attachment for its type and
// writes the canonical members that carry it.
func writeContent(out *sdk.JSON, ct *content) error {
	switch ct.typ {
	case typeText, typeTip:
		if ct.text == "" {
			return sdk.BadField(ct.textName, "is required for message type %d", ct.typ)
		}
		out.Key(sdk.KeyText).String(ct.text)
		return nil
	}
	if ct.text != "" {
		out.Key(sdk.KeyText).String(ct.text)
	}
	switch ct.typ {
	case typeImage, typeAudio, typeVideo, typeFile:
		return writeMedia(out, ct)
	case typeLocation:
		return writeLocation(out, ct)
	}
	// typeCustom: any JSON the developer chose.
	a := ct.att
	if !a.Exists() || a.Type == gjson.Null {
		return sdk.BadField(ct.where, "is required for a custom message (type 100)")
	}
	out.Key(sdk.KeyCustom).Object()
	if ct.subType > 0 {
		out.Key(sdk.CustomSubType).Int(ct.subType)
	}
	out.Key(sdk.CustomData).RawString(a.Raw)
	out.End()
	return nil
}

// mediaFields maps attachment members to canonical media keys. v1 bodies
// say w/h/dur; v2 attachments say width/height and, NetEase does not
// publish it, probably duration: both spellings are read, the first one
// present wins.
var mediaFields = [...]struct {
	key    string
	names  [2]string
	number bool
}{
	{sdk.MediaName, [2]string{"name"}, false},
	{sdk.MediaMD5, [2]string{"md5"}, false},
	{sdk.MediaExt, [2]string{"ext"}, false},
	{sdk.MediaSize, [2]string{"size"}, true},
	{sdk.MediaWidth, [2]string{"w", "width"}, true},
	{sdk.MediaHeight, [2]string{"h", "height"}, true},
	{sdk.MediaDurationMS, [2]string{"dur", "duration"}, true},
}

func writeMedia(out *sdk.JSON, ct *content) error {
	a := ct.att
	if !a.IsObject() {
		return sdk.BadField(ct.where, "is required for message type %d and must be an object with a url", ct.typ)
	}
	url := a.Get("url")
	if url.Type != gjson.String || url.Str == "" {
		return sdk.BadField(ct.where+".url", "is required")
	}
	// Check every member before writing any.
	var vals [len(mediaFields)]gjson.Result
	for i, m := range mediaFields {
		for _, name := range m.names {
			if name == "" {
				continue
			}
			v := a.Get(name)
			if !v.Exists() || v.Type == gjson.Null {
				continue
			}
			if m.number {
				if n, ok := integer(v); !ok || v.Type != gjson.Number || n < 0 {
					return sdk.BadField(ct.where+"."+name, "must be a non-negative integer")
				}
			} else if v.Type != gjson.String {
				return sdk.BadField(ct.where+"."+name, "must be a string")
			}
			if !vals[i].Exists() {
				vals[i] = v
			}
		}
	}
	out.Key(sdk.KeyMedia).Object()
	out.Key(sdk.MediaURL).String(url.Str)
	for i, m := range mediaFields {
		switch v := vals[i]; {
		case !v.Exists():
		case m.number:
			out.Key(m.key).RawString(v.Raw)
		case v.Str != "":
			out.Key(m.key).String(v.Str)
		}
	}
	out.Key(sdk.MediaVendor).String(sdk.DialectNetease)
	out.End()
	return nil
}

func writeLocation(out *sdk.JSON, ct *content) error {
	a := ct.att
	if !a.IsObject() {
		return sdk.BadField(ct.where, "is required for a location (type 4) and must be an object with lat and lng")
	}
	latName, lngName := "lat", "lng"
	lat, lng := a.Get(latName), a.Get(lngName)
	if !lat.Exists() && !lng.Exists() {
		latName, lngName = "latitude", "longitude"
		lat, lng = a.Get(latName), a.Get(lngName)
	}
	la, err := coordinate(lat, ct.where+"."+latName, 90)
	if err != nil {
		return err
	}
	lo, err := coordinate(lng, ct.where+"."+lngName, 180)
	if err != nil {
		return err
	}
	title := a.Get("title")
	if title.Exists() && title.Type != gjson.String && title.Type != gjson.Null {
		return sdk.BadField(ct.where+".title", "must be a string")
	}
	out.Key(sdk.KeyLocation).Object()
	out.Key(sdk.LocLat).Float(la).Key(sdk.LocLng).Float(lo)
	if title.Str != "" {
		out.Key(sdk.LocAddress).String(title.Str)
	}
	out.End()
	return nil
}

// coordinate reads a latitude or longitude: a number (a numeric string is
// tolerated) within ±limit degrees.
func coordinate(v gjson.Result, name string, limit float64) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(name, "must be a number")
		}
	default:
		if !v.Exists() || v.Type == gjson.Null {
			return 0, sdk.BadField(name, "is required")
		}
		return 0, sdk.BadField(name, "must be a number")
	}
	if !(f >= -limit && f <= limit) {
		return 0, sdk.BadField(name, "%s is out of range ±%g", sdk.Quote(v.Raw), limit)
	}
	return f, nil
}

// v1 core fields: read into the model; every other field goes to
// vendor.netease.v1 as written.
func v1Core(k string, batch bool) bool {
	switch k {
	case "type", "body", "msgDesc", "option", "pushcontent", "pushContent", "ext":
		return true
	case "from", "ope", "to":
		return !batch
	case "fromAccid", "toAccids":
		return batch
	}
	return false
}

// parseForm splits an application/x-www-form-urlencoded body into
// c.form, decoding escapes into c.buf. The first of repeated names wins.
func (c *codec) parseForm(body string) error {
	c.form = c.form[:0]
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, ok := c.unescape(k)
		if !ok {
			return sdk.BadField("", "form name %s has a malformed percent-encoding", sdk.Quote(k))
		}
		val, ok := c.unescape(v)
		if !ok {
			return sdk.BadField(key, "has a malformed percent-encoding")
		}
		if c.formValue(key) != nil {
			continue
		}
		c.form = append(c.form, formField{key, val})
		if len(c.form) > 256 {
			return sdk.BadField("", "the form has more than 256 fields")
		}
	}
	return nil
}

func (c *codec) unescape(s string) (string, bool) {
	if !needsUnescape(s, true) {
		return s, true
	}
	start := len(c.buf)
	var ok bool
	c.buf, ok = appendUnescape(c.buf, s, true)
	return str(c.buf[start:]), ok
}

// formValue returns the field named k, or nil.
func (c *codec) formValue(k string) *formField {
	for i := range c.form {
		if c.form[i].key == k {
			return &c.form[i]
		}
	}
	return nil
}

func (c *codec) get(k string) string {
	if f := c.formValue(k); f != nil {
		return f.val
	}
	return ""
}

// jsonObject parses the form field k, a JSON string, into an object.
// Absent and empty give an empty result.
func (c *codec) jsonObject(k string) (gjson.Result, error) {
	v := strings.TrimSpace(c.get(k))
	if v == "" {
		return gjson.Result{}, nil
	}
	if !gjson.Valid(v) || !gjson.Parse(v).IsObject() {
		return gjson.Result{}, sdk.BadField(k, "must be a JSON object")
	}
	return gjson.Parse(v), nil
}

// decodeV1 decodes msg/sendMsg.action or msg/sendBatchMsg.action.
func (c *codec) decodeV1(req *sdk.Request, batch bool, out *sdk.JSON) error {
	c.buf = c.buf[:0]
	if err := c.parseForm(str(req.Body)); err != nil {
		return err
	}
	var from, to string
	list := sdk.ToUsers
	var receivers gjson.Result
	if batch {
		from = c.get("fromAccid")
		if from == "" {
			return sdk.BadField("fromAccid", "is required: the sender's account")
		}
		if why := checkAccid(from); why != "" {
			return sdk.BadField("fromAccid", "%s %s", sdk.Quote(from), why)
		}
		raw := strings.TrimSpace(c.get("toAccids"))
		if raw == "" {
			return sdk.BadField("toAccids", "is required: a JSON array of accounts such as [\"a\",\"b\"]")
		}
		if !gjson.Valid(raw) || !gjson.Parse(raw).IsArray() {
			return sdk.BadField("toAccids", "must be a JSON array of accounts such as [\"a\",\"b\"]")
		}
		receivers = gjson.Parse(raw)
		limit := maxBatchV1
		if c.get("returnMsgid") == "true" {
			limit = maxBatchV1ID
		}
		n := 0
		var err error
		receivers.ForEach(func(_, v gjson.Result) bool {
			n++
			if v.Type != gjson.String {
				err = sdk.BadField("toAccids", "entry %d must be a string", n)
			} else if why := checkAccid(v.Str); why != "" {
				err = sdk.BadField("toAccids", "entry %d %s %s", n, sdk.Quote(v.Str), why)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
		if n == 0 {
			return sdk.BadField("toAccids", "is empty")
		}
		if n > limit {
			return sdk.BadField("toAccids", "has %d accounts: at most %d per call (%d with returnMsgid)", n, maxBatchV1, maxBatchV1ID)
		}
	} else {
		from = c.get("from")
		if from == "" {
			return sdk.BadField("from", "is required: the sender's account")
		}
		if why := checkAccid(from); why != "" {
			return sdk.BadField("from", "%s %s", sdk.Quote(from), why)
		}
		to = c.get("to")
		if to == "" {
			return sdk.BadField("to", "is required: the receiving account or team id")
		}
		switch c.get("ope") {
		case "0":
			if why := checkAccid(to); why != "" {
				return sdk.BadField("to", "%s %s", sdk.Quote(to), why)
			}
		case "1":
			if why := checkTid(to); why != "" {
				return sdk.BadField("to", "%s %s", sdk.Quote(to), why)
			}
			list = sdk.ToGroups
		case "":
			return sdk.BadField("ope", "is required: 0 (to an account) or 1 (to a team)")
		default:
			return sdk.BadField("ope", "%s must be 0 (to an account) or 1 (to a team)", sdk.Quote(c.get("ope")))
		}
	}

	ct := content{where: "body", textName: "body.msg", text: c.get("msgDesc")}
	typ := c.get("type")
	if typ == "" {
		return sdk.BadField("type", "is required: one of %s", typeList)
	}
	t, err := strconv.ParseInt(typ, 10, 64)
	if err != nil || kindOf(t) == "" {
		return sdk.BadField("type", "%s is not a NetEase message type: want one of %s", sdk.Quote(typ), typeList)
	}
	ct.typ = t
	b := strings.TrimSpace(c.get("body"))
	if b == "" {
		return sdk.BadField("body", "is required: a JSON string")
	}
	if !gjson.Valid(b) {
		return sdk.BadField("body", "must be a JSON string")
	}
	body := gjson.Parse(b)
	switch ct.typ {
	case typeText, typeTip:
		if !body.IsObject() {
			return sdk.BadField("body", "must be a JSON object like {\"msg\": \"...\"}")
		}
		msg := body.Get("msg")
		if msg.Exists() && msg.Type != gjson.String {
			return sdk.BadField("body.msg", "must be a string")
		}
		ct.text = msg.Str
	case typeCustom:
		ct.att = body
		if st := c.get("subType"); st != "" {
			n, err := strconv.ParseInt(st, 10, 64)
			if err != nil || n < 0 {
				return sdk.BadField("subType", "must be a positive integer")
			}
			ct.subType = n
		}
	default:
		ct.att = body
	}
	option, err := c.jsonObject("option")
	if err != nil {
		return err
	}
	ext := strings.TrimSpace(c.get("ext"))
	extObject := ext != "" && gjson.Valid(ext) && gjson.Parse(ext).IsObject()

	out.Object().Key(sdk.KeyVersion).Int(sdk.ModelVersion)
	out.Key(sdk.KeyMessages).Array().Object()
	out.Key(sdk.KeyKind).String(kindOf(ct.typ))
	out.Key(sdk.KeyFrom).String(from)
	out.Key(sdk.KeyTo).Object()
	if batch {
		out.Key(sdk.ToUsers).RawString(receivers.Raw)
	} else {
		out.Key(list).Array().String(to).End()
	}
	out.End()
	if err := writeContent(out, &ct); err != nil {
		return err
	}
	opts := optionWriter{out: out}
	if v := option.Get("push"); v.Type == gjson.False {
		opts.bool(sdk.OptSilent, true)
	}
	if v := option.Get("roam"); isBool(v) {
		opts.bool(sdk.OptRoam, v.Type == gjson.True)
	}
	if v := option.Get("history"); isBool(v) {
		opts.bool(sdk.OptHistory, v.Type == gjson.True)
	}
	if v := option.Get("sendersync"); isBool(v) {
		opts.bool(sdk.OptSyncSender, v.Type == gjson.True)
	}
	if option.Get("persistent").Type == gjson.False {
		opts.bool(sdk.OptOnlineOnly, true)
	}
	push := c.get("pushcontent")
	if push == "" {
		push = c.get("pushContent")
	}
	if push != "" {
		opts.string(sdk.OptPushText, push)
	}
	opts.end()
	if extObject {
		out.Key(sdk.KeyExt).RawString(ext)
	}
	ep := epV1
	if batch {
		ep = epV1Batch
	}
	n := 0
	for _, f := range c.form {
		keep := !v1Core(f.key, batch) || f.key == "option" || f.key == "ext" && !extObject
		if f.key == "subType" && ct.typ == typeCustom {
			keep = false
		}
		if !keep || f.key == "option" && option.Raw == "" {
			continue
		}
		if n == 0 {
			out.Key(sdk.KeyVendor).Object().Key(sdk.DialectNetease).Object().Key("v1").Object()
		}
		n++
		out.Key(f.key).String(f.val)
	}
	if n > 0 {
		out.End().End().End()
	}
	out.End().End()
	endBatch(out, ep)
	return nil
}
