package main

import (
	"math"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/tidwall/gjson"
)

// codec is the opapp codec. One plugin instance runs one call at a time, so
// its scratch buffers need no locking; they only grow.
type codec struct {
	tag      sdk.JSON // the tag of the request being encoded
	text     []byte   // fallback text of a degraded message
	sent     []sent   // the entries of one request, while decoding its answer
	failed   []bool   // per batch message, while encoding the client answer
	errs     []string // per batch message: the first error text
	reported []bool   // per batch message: some result names it
}

var _ sdk.Codec = (*codec)(nil)

// opapp message types and the canonical kind of each.
var types = [...]struct{ op, kind string }{
	{"txt", sdk.KindText},
	{"img", sdk.KindImage},
	{"audio", sdk.KindAudio},
	{"video", sdk.KindVideo},
	{"file", sdk.KindFile},
	{"loc", sdk.KindLocation},
	{"cmd", sdk.KindCommand},
}

func kindOf(t string) string {
	for _, x := range types {
		if x.op == t {
			return x.kind
		}
	}
	return ""
}

func typeOf(kind string) string {
	for _, x := range types {
		if x.kind == kind {
			return x.op
		}
	}
	return ""
}

// Target types of msgBody.targetType.
const (
	targetUsers  = "users"
	targetGroups = "chatgroups"
)

// defaultReqURL is the reqUrl of the document's example.
const defaultReqURL = "/hxSend/send2EasemobMessage"

// field names messages[i] plus rest, for error messages only.
func field(i int, rest string) string { return "messages[" + strconv.Itoa(i) + "]" + rest }

// DecodeRequest turns an opapp batch into canonical messages, one per
// opapp message, in order: results refer to them by the same index.
func (c *codec) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	if !gjson.Valid(sdk.Str(req.Body)) {
		return sdk.BadField("", "body is not valid JSON")
	}
	root := sdk.Parse(req.Body)
	if !root.IsObject() {
		return sdk.BadField("", "body must be a JSON object with reqUrl and messages")
	}
	reqURL := root.Get("reqUrl")
	if reqURL.Type != gjson.String || reqURL.Str == "" {
		if reqURL.Exists() && reqURL.Type != gjson.Null && reqURL.Type != gjson.String {
			return sdk.BadField("reqUrl", "reqUrl must be a string")
		}
		return sdk.BadField("reqUrl", "reqUrl is required")
	}
	msgs := root.Get("messages")
	if !msgs.IsArray() {
		if msgs.Exists() && msgs.Type != gjson.Null {
			return sdk.BadField("messages", "messages must be a list of messages")
		}
		return sdk.BadField("messages", "messages is required")
	}
	out.Object().KeyInt(sdk.KeyVersion, sdk.ModelVersion)
	out.Key(sdk.KeyVendor).Object().Key(sdk.DialectOpapp).Object().KeyValue("reqUrl", reqURL).End().End()
	out.Key(sdk.KeyMessages).Array()
	i := 0
	var err error
	msgs.ForEach(func(_, m gjson.Result) bool {
		err = decodeMessage(i, m, out)
		i++
		return err == nil
	})
	if err != nil {
		return err
	}
	if i == 0 {
		return sdk.BadField("messages", "messages is empty")
	}
	out.End().End()
	return nil
}

// decodeMessage decodes messages[i].
func decodeMessage(i int, m gjson.Result, out *sdk.JSON) error {
	if !m.IsObject() {
		return sdk.BadField(field(i, ""), "a message must be an object with msgType and msgBody")
	}
	mt := m.Get("msgType")
	if mt.Type != gjson.String || mt.Str == "" {
		if mt.Exists() && mt.Type != gjson.Null && mt.Type != gjson.String {
			return sdk.BadField(field(i, ".msgType"), "msgType must be a string")
		}
		return sdk.BadField(field(i, ".msgType"), "msgType is required")
	}
	kind := kindOf(mt.Str)
	if kind == "" {
		return sdk.BadField(field(i, ".msgType"), "msgType %q is not one of txt, audio, img, loc, video, file, cmd", mt.Str)
	}
	body := m.Get("msgBody")
	if body.Type == gjson.String {
		// The document calls msgBody "a json string": accept it encoded.
		s := strings.TrimSpace(body.Str)
		if !gjson.Valid(s) || !gjson.Parse(s).IsObject() {
			return sdk.BadField(field(i, ".msgBody"), "msgBody must be a JSON object (or a string holding one)")
		}
		body = gjson.Parse(s)
	}
	if !body.IsObject() {
		if body.Exists() && body.Type != gjson.Null {
			return sdk.BadField(field(i, ".msgBody"), "msgBody must be a JSON object")
		}
		return sdk.BadField(field(i, ".msgBody"), "msgBody is required, whatever the msgType")
	}
	if bt := body.Get("msgType"); bt.Exists() && bt.Type != gjson.Null && bt.Str != mt.Str {
		return sdk.BadField(field(i, ".msgBody.msgType"), "msgBody.msgType %s differs from msgType %q", bt.Raw, mt.Str)
	}
	from, err := id(body.Get("fromUser"), i, ".msgBody.fromUser")
	if err != nil {
		return err
	}
	to, err := id(body.Get("toUser"), i, ".msgBody.toUser")
	if err != nil {
		return err
	}
	list := sdk.ToGroups
	switch tt := body.Get("targetType"); {
	case !tt.Exists() || tt.Type == gjson.Null || tt.Str == "" && tt.Type == gjson.String:
		// The document's default.
	case tt.Str == targetGroups:
	case tt.Str == targetUsers:
		list = sdk.ToUsers
	default:
		return sdk.BadField(field(i, ".msgBody.targetType"), "targetType must be users or chatgroups, got %s", tt.Raw)
	}
	out.Object().KeyString(sdk.KeyKind, kind)
	out.KeyString(sdk.KeyFrom, from)
	out.Key(sdk.KeyTo).Object().Key(list).Array().String(to).End().End()
	if err := decodeContent(i, kind, m, body, out); err != nil {
		return err
	}
	if err := decodeExt(i, body.Get("ext"), out); err != nil {
		return err
	}
	out.End()
	return nil
}

// id reads a required user or group id: a non-empty string, or a number
// as its decimal text (Java clients send numeric ids).
func id(v gjson.Result, i int, rest string) (string, error) {
	switch {
	case v.Type == gjson.String && v.Str != "":
		if why := sdk.IDProblem(v.Str); why != "" {
			return "", sdk.BadField(field(i, rest), "%s %s", rest[1:], why)
		}
		return v.Str, nil
	case v.Type == gjson.Number:
		return v.Raw, nil
	case v.Exists() && v.Type != gjson.Null && v.Type != gjson.String:
		return "", sdk.BadField(field(i, rest), "%s must be a string", rest[1:])
	}
	return "", sdk.BadField(field(i, rest), "%s is required", rest[1:])
}

// decodeContent writes the canonical content of one message. Only txt
// (msg) and the media URL (fileUrl, mediaFile) are documented; the other
// fields mirror the Easemob body the relay forwards to (README, Assumptions).
func decodeContent(i int, kind string, m, body gjson.Result, out *sdk.JSON) error {
	msg := body.Get("msg")
	if msg.Exists() && msg.Type != gjson.String && msg.Type != gjson.Null {
		return sdk.BadField(field(i, ".msgBody.msg"), "msg must be a string")
	}
	switch kind {
	case sdk.KindText:
		if msg.Str == "" {
			return sdk.BadField(field(i, ".msgBody.msg"), "msg is required for a txt message")
		}
		out.KeyValue(sdk.KeyText, msg)
		return nil
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo, sdk.KindFile:
		out.OptValue(sdk.KeyText, msg)
		return decodeMedia(i, kind, m, body, out)
	case sdk.KindLocation:
		lat, err := coordinate(body.Get("lat"), i, ".msgBody.lat", 90)
		if err != nil {
			return err
		}
		lng, err := coordinate(body.Get("lng"), i, ".msgBody.lng", 180)
		if err != nil {
			return err
		}
		addr := body.Get("addr")
		if addr.Exists() && addr.Type != gjson.String && addr.Type != gjson.Null {
			return sdk.BadField(field(i, ".msgBody.addr"), "addr must be a string")
		}
		if addr.Str == "" {
			addr = msg // a client may put the address in msg
		}
		out.Key(sdk.KeyLocation).Object().KeyFloat(sdk.LocLat, lat).KeyFloat(sdk.LocLng, lng)
		out.OptString(sdk.LocAddress, addr.Str).End()
	case sdk.KindCommand:
		action := body.Get("action")
		if action.Exists() && action.Type != gjson.String && action.Type != gjson.Null {
			return sdk.BadField(field(i, ".msgBody.action"), "action must be a string")
		}
		if action.Str == "" {
			action = msg
		}
		if action.Str == "" {
			return sdk.BadField(field(i, ".msgBody.action"), "a cmd message needs its action (msgBody.action, or msgBody.msg)")
		}
		out.Key(sdk.KeyCommand).Object().KeyString(sdk.CommandAction, action.Str).End()
	}
	return nil
}

// decodeMedia writes "media": the URL from fileUrl, else from mediaFile.
func decodeMedia(i int, kind string, m, body gjson.Result, out *sdk.JSON) error {
	fileURL := m.Get("fileUrl")
	if fileURL.Exists() && fileURL.Type != gjson.String && fileURL.Type != gjson.Null {
		return sdk.BadField(field(i, ".fileUrl"), "fileUrl must be a string")
	}
	mediaFile := body.Get("mediaFile")
	if mediaFile.Exists() && mediaFile.Type != gjson.String && mediaFile.Type != gjson.Null {
		return sdk.BadField(field(i, ".msgBody.mediaFile"), "mediaFile must be a string")
	}
	url, name := fileURL.Str, ""
	switch {
	case url == "":
		url = mediaFile.Str
	case !strings.Contains(mediaFile.Str, "://"):
		name = mediaFile.Str
	}
	if url == "" {
		return sdk.BadField(field(i, ".fileUrl"), "msgType %s needs its file: fileUrl (or msgBody.mediaFile)", m.Get("msgType").Str)
	}
	if n := body.Get("filename"); n.Type == gjson.String && n.Str != "" {
		name = n.Str
	}
	var w, h, length, fileLen float64
	var err error
	if size := body.Get("size"); size.IsObject() {
		if w, err = number(size.Get("width"), i, ".msgBody.size.width"); err != nil {
			return err
		}
		if h, err = number(size.Get("height"), i, ".msgBody.size.height"); err != nil {
			return err
		}
	}
	if length, err = number(body.Get("length"), i, ".msgBody.length"); err != nil {
		return err
	}
	if fileLen, err = number(body.Get("file_length"), i, ".msgBody.file_length"); err != nil {
		return err
	}
	out.Key(sdk.KeyMedia).Object()
	out.KeyString(sdk.MediaURL, url)
	out.OptString(sdk.MediaSecret, body.Get("secret").Str)
	out.OptString(sdk.MediaName, name)
	out.OptInt(sdk.MediaSize, int64(fileLen))
	out.OptInt(sdk.MediaWidth, int64(w))
	out.OptInt(sdk.MediaHeight, int64(h))
	if kind == sdk.KindAudio || kind == sdk.KindVideo {
		out.OptInt(sdk.MediaDurationMS, int64(math.Round(length*1000)))
	}
	out.OptString(sdk.MediaThumbURL, body.Get("thumb").Str)
	out.OptString(sdk.MediaThumbSecret, body.Get("thumb_secret").Str)
	out.End()
	return nil
}

// decodeExt writes "ext". The document's examples send null and "", and
// call the body "a json string", so ext may also be an object encoded in a
// string. opapp forwards ext to Easemob, so ext.em_ignore_notification is
// lifted into options.silent, as the Easemob codec does.
func decodeExt(i int, ext gjson.Result, out *sdk.JSON) error {
	switch {
	case !ext.Exists() || ext.Type == gjson.Null:
		return nil
	case ext.IsObject():
	case ext.Type == gjson.String && strings.TrimSpace(ext.Str) == "":
		return nil
	case ext.Type == gjson.String && gjson.Valid(ext.Str) && gjson.Parse(ext.Str).IsObject():
		ext = gjson.Parse(ext.Str)
	default:
		return sdk.BadField(field(i, ".msgBody.ext"), "ext must be a JSON object (or a string holding one)")
	}
	if ext.Get(extSilent).Type == gjson.True {
		out.Key(sdk.KeyOptions).Object().KeyBool(sdk.OptSilent, true).End()
	}
	wrote := false
	ext.ForEach(func(k, v gjson.Result) bool {
		if k.Str == extSilent {
			return true
		}
		if !wrote {
			out.Key(sdk.KeyExt).Object()
			wrote = true
		}
		out.Key(k.Str).Value(v)
		return true
	})
	if wrote {
		out.End()
	}
	return nil
}

// extSilent is the Easemob ext key of a message without notification.
const extSilent = "em_ignore_notification"

// coordinate reads a latitude or longitude, a number or a numeric string,
// within ±limit degrees.
func coordinate(v gjson.Result, i int, rest string, limit float64) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field(i, rest), "%s must be a number in degrees, got %q", rest[len(".msgBody."):], v.Str)
		}
	default:
		return 0, sdk.BadField(field(i, rest), "%s is required for a loc message", rest[len(".msgBody."):])
	}
	if math.IsNaN(f) || f < -limit || f > limit {
		return 0, sdk.BadField(field(i, rest), "%s must be between -%g and %g", rest[len(".msgBody."):], limit, limit)
	}
	return f, nil
}

// number reads an optional non-negative number, also as a numeric string.
func number(v gjson.Result, i int, rest string) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Null:
		return 0, nil
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field(i, rest), "%s must be a number", rest[1:])
		}
	default:
		return 0, sdk.BadField(field(i, rest), "%s must be a number", rest[1:])
	}
	if math.IsNaN(f) || f < 0 || f > 1<<53 {
		return 0, sdk.BadField(field(i, rest), "%s must be a non-negative number", rest[1:])
	}
	return f, nil
}
