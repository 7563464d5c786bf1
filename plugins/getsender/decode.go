package main

import (
	"math"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/tidwall/gjson"
)

// codec is the getsender codec. One plugin instance runs one call at a
// time, so its scratch buffers need no locking; they only grow.
type codec struct {
	tag  sdk.JSON // the tag of the request being encoded
	text []byte   // fallback text of a degraded message
}

var _ sdk.Codec = (*codec)(nil)

// kinds is the canonical kind of each messageType, 1 to 10.
var kinds = [...]string{
	1:  sdk.KindText,
	2:  sdk.KindImage,
	3:  sdk.KindAudio,
	4:  sdk.KindVideo,
	5:  sdk.KindLocation,
	6:  sdk.KindCommand,
	7:  sdk.KindNews,
	8:  sdk.KindNews, // custom news: vendor.getsender.messageType keeps the 8
	9:  sdk.KindTemplate,
	10: sdk.KindExtension,
}

// ext keys the codec lifts into canonical fields.
const (
	extTemplate  = "template"
	extExpand    = "expandMsg"
	extVoiceText = "voiceText"
)

// DecodeRequest turns a getsender business message into a canonical batch
// of one message to one user.
func (c *codec) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	if !gjson.Valid(sdk.Str(req.Body)) {
		return sdk.BadField("", "body is not valid JSON")
	}
	root := sdk.Parse(req.Body)
	if !root.IsObject() {
		return sdk.BadField("", "body must be a JSON object")
	}
	mt, err := messageType(root.Get("messageType"))
	if err != nil {
		return err
	}
	from, err := id(root.Get("from"), "from")
	if err != nil {
		return err
	}
	user, err := id(root.Get("userId"), "userId")
	if err != nil {
		return err
	}
	disturb, err := boolean(root.Get("isDisturb"), "isDisturb")
	if err != nil {
		return err
	}
	info := root.Get("messageInfo")
	if !info.IsObject() {
		if info.Exists() && info.Type != gjson.Null {
			return sdk.BadField("messageInfo", "messageInfo must be a JSON object")
		}
		return sdk.BadField("messageInfo", "messageInfo is required")
	}
	ext := root.Get("ext")
	if ext.Exists() && ext.Type != gjson.Null && !ext.IsObject() {
		return sdk.BadField("ext", "ext must be a JSON object")
	}
	kind := kinds[mt]
	out.Object().KeyInt(sdk.KeyVersion, sdk.ModelVersion).Key(sdk.KeyMessages).Array()
	out.Object().KeyString(sdk.KeyKind, kind)
	out.KeyString(sdk.KeyFrom, from)
	out.Key(sdk.KeyTo).Object().Key(sdk.ToUsers).Array().String(user).End().End()
	if err := decodeContent(mt, info, ext, out); err != nil {
		return err
	}
	if !disturb {
		out.Key(sdk.KeyOptions).Object().KeyBool(sdk.OptSilent, true).End()
	}
	writeExt(mt, ext, out)
	if mt == 8 {
		out.Key(sdk.KeyVendor).Object().Key(sdk.DialectGetsender).Object().KeyInt("messageType", 8).End().End()
	}
	out.End().End().End()
	return nil
}

// messageType reads messageType: 1 to 10, a number or a numeric string.
func messageType(v gjson.Result) (int, error) {
	var n int64
	switch v.Type {
	case gjson.Number:
		if v.Num != math.Trunc(v.Num) {
			return 0, sdk.BadField("messageType", "messageType must be an integer from 1 to 10, got %s", v.Raw)
		}
		n = int64(v.Num)
	case gjson.String:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64); err != nil {
			return 0, sdk.BadField("messageType", "messageType must be an integer from 1 to 10, got %s", v.Raw)
		}
	case gjson.Null:
		return 0, sdk.BadField("messageType", "messageType is required (1 text, 2 image, 3 voice, 4 video, 5 location, 6 pass-through, 7 news, 8 custom news, 9 template, 10 extension)")
	default:
		return 0, sdk.BadField("messageType", "messageType must be an integer from 1 to 10, got %s", v.Raw)
	}
	if n < 1 || n > 10 {
		return 0, sdk.BadField("messageType", "messageType must be from 1 to 10 (1 text, 2 image, 3 voice, 4 video, 5 location, 6 pass-through, 7 news, 8 custom news, 9 template, 10 extension), got %d", n)
	}
	return int(n), nil
}

// id reads a required id: a non-empty string, or a number as its text.
func id(v gjson.Result, field string) (string, error) {
	switch {
	case v.Type == gjson.String && v.Str != "":
		if why := sdk.IDProblem(v.Str); why != "" {
			return "", sdk.BadField(field, "%s %s", field, why)
		}
		return v.Str, nil
	case v.Type == gjson.Number:
		return v.Raw, nil
	case v.Exists() && v.Type != gjson.Null && v.Type != gjson.String:
		return "", sdk.BadField(field, "%s must be a string", field)
	}
	return "", sdk.BadField(field, "%s is required", field)
}

// boolean reads a required boolean, also given as "true" or "false".
func boolean(v gjson.Result, field string) (bool, error) {
	switch {
	case v.Type == gjson.True || v.Type == gjson.String && v.Str == "true":
		return true, nil
	case v.Type == gjson.False || v.Type == gjson.String && v.Str == "false":
		return false, nil
	case !v.Exists() || v.Type == gjson.Null:
		return false, sdk.BadField(field, "%s is required: true, or false for a silent message", field)
	}
	return false, sdk.BadField(field, "%s must be a boolean, got %s", field, v.Raw)
}

// decodeContent writes the canonical content of messageType mt. The
// messageInfo of each type is not documented; it is read as the Easemob
// body of the same type (README, Assumptions).
func decodeContent(mt int, info, ext gjson.Result, out *sdk.JSON) error {
	msg := info.Get("msg")
	if msg.Exists() && msg.Type != gjson.String && msg.Type != gjson.Null {
		return sdk.BadField("messageInfo.msg", "messageInfo.msg must be a string")
	}
	switch mt {
	case 1:
		if msg.Str == "" {
			return sdk.BadField("messageInfo.msg", "messageInfo.msg is required for a text message (messageType 1)")
		}
		out.KeyValue(sdk.KeyText, msg)
	case 2, 3, 4:
		text := msg
		if mt == 3 {
			if vt := ext.Get(extVoiceText); vt.Type == gjson.String && vt.Str != "" {
				text = vt
			}
		}
		out.OptValue(sdk.KeyText, text)
		return decodeMedia(mt, info, out)
	case 5:
		lat, err := coordinate(info.Get("lat"), "messageInfo.lat", 90)
		if err != nil {
			return err
		}
		lng, err := coordinate(info.Get("lng"), "messageInfo.lng", 180)
		if err != nil {
			return err
		}
		addr := info.Get("addr")
		if addr.Exists() && addr.Type != gjson.String && addr.Type != gjson.Null {
			return sdk.BadField("messageInfo.addr", "messageInfo.addr must be a string")
		}
		out.Key(sdk.KeyLocation).Object().KeyFloat(sdk.LocLat, lat).KeyFloat(sdk.LocLng, lng)
		out.OptString(sdk.LocAddress, addr.Str).End()
	case 6:
		action := info.Get("action")
		if action.Type != gjson.String || action.Str == "" {
			return sdk.BadField("messageInfo.action", "messageInfo.action is required for a pass-through message (messageType 6)")
		}
		out.Key(sdk.KeyCommand).Object().KeyValue(sdk.CommandAction, action).End()
	case 7, 8:
		out.OptValue(sdk.KeyText, msg)
		return decodeArticles(mt, info, out)
	case 9:
		t := ext.Get(extTemplate)
		if !t.IsObject() {
			return sdk.BadField("ext.template", "ext.template is required for a template message (messageType 9)")
		}
		tid := t.Get("templetId")
		var n int64
		switch {
		case tid.Type == gjson.Number && tid.Num == math.Trunc(tid.Num):
			n = tid.Int()
		case tid.Type == gjson.String:
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(tid.Str), 10, 64); err != nil {
				return sdk.BadField("ext.template.templetId", "ext.template.templetId must be an integer, got %s", tid.Raw)
			}
		default:
			return sdk.BadField("ext.template.templetId", "ext.template.templetId is required: an integer")
		}
		content, err := jsonText(t.Get("content"), "ext.template.content")
		if err != nil {
			return err
		}
		out.OptValue(sdk.KeyText, msg)
		out.Key(sdk.KeyTemplate).Object().KeyInt(sdk.TemplateID, n)
		writeJSONText(out, sdk.TemplateContent, content)
		out.End()
	case 10:
		e := ext.Get(extExpand)
		if !e.IsObject() {
			return sdk.BadField("ext.expandMsg", "ext.expandMsg is required for an extension message (messageType 10)")
		}
		typ := e.Get("MsgType")
		if typ.Type != gjson.String || typ.Str == "" {
			return sdk.BadField("ext.expandMsg.MsgType", "ext.expandMsg.MsgType is required: a string")
		}
		content, err := jsonText(e.Get("Content"), "ext.expandMsg.Content")
		if err != nil {
			return err
		}
		out.OptValue(sdk.KeyText, msg)
		out.Key(sdk.KeyExtension).Object().KeyValue(sdk.ExtensionType, typ)
		writeJSONText(out, sdk.ExtensionContent, content)
		out.End()
	}
	return nil
}

// jsonText reads an optional "JSON text" field: a string, or an object or
// array the client sent unencoded.
func jsonText(v gjson.Result, field string) (gjson.Result, error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null || v.Type == gjson.String:
		return v, nil
	case v.IsObject() || v.IsArray():
		return v, nil
	}
	return v, sdk.BadField(field, "%s must be a JSON text (a string)", field)
}

// writeJSONText writes a jsonText value as a string.
func writeJSONText(out *sdk.JSON, key string, v gjson.Result) {
	switch {
	case v.Type == gjson.String && v.Str != "":
		out.KeyValue(key, v)
	case v.IsObject() || v.IsArray():
		out.Key(key).String(gjson.Get(v.Raw, "@ugly").Raw)
	}
}

// decodeMedia writes "media" of an image, voice or video message.
func decodeMedia(mt int, info gjson.Result, out *sdk.JSON) error {
	url := info.Get("url")
	if url.Type != gjson.String || url.Str == "" {
		url = info.Get("fileUrl")
	}
	if url.Type != gjson.String || url.Str == "" {
		return sdk.BadField("messageInfo.url", "messageInfo.url (or fileUrl) is required for messageType %d", mt)
	}
	for _, k := range [...]string{"filename", "secret", "thumb", "thumb_secret"} {
		if v := info.Get(k); v.Exists() && v.Type != gjson.String && v.Type != gjson.Null {
			return sdk.BadField("messageInfo."+k, "messageInfo.%s must be a string", k)
		}
	}
	var w, h, length, fileLen float64
	var err error
	if size := info.Get("size"); size.Exists() && size.Type != gjson.Null {
		if !size.IsObject() {
			return sdk.BadField("messageInfo.size", "messageInfo.size must be an object with width and height")
		}
		if w, err = number(size.Get("width"), "messageInfo.size.width"); err != nil {
			return err
		}
		if h, err = number(size.Get("height"), "messageInfo.size.height"); err != nil {
			return err
		}
	}
	if length, err = number(info.Get("length"), "messageInfo.length"); err != nil {
		return err
	}
	if fileLen, err = number(info.Get("file_length"), "messageInfo.file_length"); err != nil {
		return err
	}
	out.Key(sdk.KeyMedia).Object()
	out.KeyValue(sdk.MediaURL, url)
	out.OptString(sdk.MediaSecret, info.Get("secret").Str)
	out.OptString(sdk.MediaName, info.Get("filename").Str)
	out.OptInt(sdk.MediaSize, int64(fileLen))
	out.OptInt(sdk.MediaWidth, int64(w))
	out.OptInt(sdk.MediaHeight, int64(h))
	out.OptInt(sdk.MediaDurationMS, int64(math.Round(length*1000)))
	out.OptString(sdk.MediaThumbURL, info.Get("thumb").Str)
	out.OptString(sdk.MediaThumbSecret, info.Get("thumb_secret").Str)
	out.End()
	return nil
}

// decodeArticles writes "articles" of a news message: messageInfo.articles
// (or messageInfo.news.articles, as WeChat's news), or one article given
// at the top of messageInfo.
func decodeArticles(mt int, info gjson.Result, out *sdk.JSON) error {
	list, field := info.Get("articles"), "messageInfo.articles"
	if !list.Exists() {
		if l := info.Get("news.articles"); l.Exists() {
			list, field = l, "messageInfo.news.articles"
		}
	}
	if list.Exists() && !list.IsArray() {
		return sdk.BadField(field, "%s must be a list of articles", field)
	}
	out.Key(sdk.KeyArticles).Array()
	if !list.Exists() {
		if info.Get("title").Str == "" {
			return sdk.BadField("messageInfo.articles", "a news message (messageType %d) needs messageInfo.articles, or one article's title at the top of messageInfo", mt)
		}
		if err := decodeArticle(info, "messageInfo", out); err != nil {
			return err
		}
		out.End()
		return nil
	}
	n := 0
	var err error
	list.ForEach(func(_, a gjson.Result) bool {
		err = decodeArticle(a, field+"["+strconv.Itoa(n)+"]", out)
		n++
		return err == nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return sdk.BadField(field, "%s is empty", field)
	}
	out.End()
	return nil
}

// decodeArticle writes one article.
func decodeArticle(a gjson.Result, field string, out *sdk.JSON) error {
	if !a.IsObject() {
		return sdk.BadField(field, "%s must be an object with a title", field)
	}
	title := a.Get("title")
	if title.Type != gjson.String || title.Str == "" {
		return sdk.BadField(field+".title", "%s.title is required", field)
	}
	digest := a.Get("description")
	if !digest.Exists() {
		digest = a.Get("digest")
	}
	cover := a.Get("picurl")
	if !cover.Exists() {
		cover = a.Get("picUrl")
	}
	for _, v := range [...]gjson.Result{digest, cover, a.Get("url"), a.Get("content")} {
		if v.Exists() && v.Type != gjson.String && v.Type != gjson.Null {
			return sdk.BadField(field, "the fields of %s must be strings", field)
		}
	}
	out.Object().KeyValue(sdk.ArticleTitle, title)
	out.OptValue(sdk.ArticleDigest, digest)
	out.OptValue(sdk.ArticleURL, a.Get("url"))
	out.OptValue(sdk.ArticleContent, a.Get("content"))
	if cover.Str != "" {
		out.Key(sdk.ArticleCover).Object().KeyValue(sdk.MediaURL, cover).End()
	}
	out.End()
	return nil
}

// writeExt writes "ext" without the keys lifted into canonical fields.
func writeExt(mt int, ext gjson.Result, out *sdk.JSON) {
	if !ext.IsObject() {
		return
	}
	wrote := false
	ext.ForEach(func(k, v gjson.Result) bool {
		switch {
		case mt == 9 && k.Str == extTemplate,
			mt == 10 && k.Str == extExpand,
			mt == 3 && k.Str == extVoiceText:
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
}

// coordinate reads a latitude or longitude, a numeric string (Easemob's
// form) or a number, within ±limit degrees.
func coordinate(v gjson.Result, field string, limit float64) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field, "%s must be a number in degrees, got %q", field, v.Str)
		}
	default:
		return 0, sdk.BadField(field, "%s is required for a location message (messageType 5)", field)
	}
	if math.IsNaN(f) || f < -limit || f > limit {
		return 0, sdk.BadField(field, "%s must be between -%g and %g", field, limit, limit)
	}
	return f, nil
}

// number reads an optional non-negative number, also as a numeric string.
func number(v gjson.Result, field string) (float64, error) {
	var f float64
	switch v.Type {
	case gjson.Null:
		return 0, nil
	case gjson.Number:
		f = v.Num
	case gjson.String:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err != nil {
			return 0, sdk.BadField(field, "%s must be a number", field)
		}
	default:
		return 0, sdk.BadField(field, "%s must be a number", field)
	}
	if math.IsNaN(f) || f < 0 || f > 1<<53 {
		return 0, sdk.BadField(field, "%s must be a non-negative number", field)
	}
	return f, nil
}
