package main

import (
	"math"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// Provider request defaults.
const (
	sendPath         = "/opapp/send2EasemobMessage"
	defaultQuery     = ""
	defaultBatchSize = 100
)

// config is what EncodeRequest and DecodeResponse read from the route's
// options.
type config struct {
	policy    sdk.Policy
	sender    string
	reqURL    string
	query     string
	batchSize int
}

func readConfig(opts, batch []byte) (config, error) {
	cfg := config{reqURL: defaultReqURL, query: defaultQuery, batchSize: defaultBatchSize}
	var err error
	if cfg.policy, err = sdk.RoutePolicy(opts); err != nil {
		return cfg, err
	}
	cfg.sender = sdk.RouteOption(opts, sdk.RouteOptSender)
	if v := sdk.Get(batch, "vendor.opapp.reqUrl"); v.Type == gjson.String && v.Str != "" {
		cfg.reqURL = v.Str // an opapp client's own reqUrl, on an opapp to opapp route
	}
	if v := sdk.RouteOption(opts, "req_url"); v != "" {
		cfg.reqURL = v
	}
	if q := sdk.Get(opts, "query"); q.Type == gjson.String {
		cfg.query = q.Str
	}
	if n := sdk.Get(opts, "batch_size"); n.Exists() {
		if n.Type != gjson.Number || n.Int() < 1 || n.Int() > 10000 {
			return cfg, sdk.Error(abi.CodeInternal, "options.batch_size", "opapp: options.batch_size must be a number from 1 to 10000, got %s", n.Raw)
		}
		cfg.batchSize = int(n.Int())
	}
	return cfg, nil
}

// plan is how one canonical message is carried to opapp.
type plan struct {
	typ      string // opapp msgType; "" when the message cannot be sent
	fallback bool   // send c.text as txt
	label    string // "degraded" of its results
	why      string // why it cannot be sent (typ == "")
}

// planMessage decides how message i is carried; see the Easemob codec,
// whose types opapp forwards to.
func (c *codec) planMessage(i int, msg gjson.Result, policy sdk.Policy) (plan, error) {
	kind := msg.Get(sdk.KeyKind).Str
	var p plan
	var reason string
	switch kind {
	case sdk.KindText, sdk.KindTemplate, sdk.KindExtension:
		p.typ = "txt"
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo, sdk.KindFile:
		if msg.Get(sdk.KeyMedia).Get(sdk.MediaURL).Str != "" {
			p.typ = typeOf(kind)
		} else {
			reason = "has no media url (only another vendor's media_id), and opapp needs one"
		}
	case sdk.KindLocation:
		p.typ = "loc"
	case sdk.KindCommand:
		if msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str == "" {
			return p, sdk.Error(abi.CodeBadRequest, "", "opapp: message %d: command has no action", i)
		}
		p.typ = "cmd"
	case sdk.KindCustom, sdk.KindNews, sdk.KindLink, sdk.KindTip, sdk.KindSystem, sdk.KindSMS, sdk.KindMail:
		reason = "has no opapp equivalent"
	default:
		return p, sdk.Error(abi.CodeBadRequest, "", "opapp: message %d: unknown kind %q", i, kind)
	}
	if p.typ != "" {
		return p, nil
	}
	if policy != sdk.PolicyDegrade {
		return p, sdk.Error(abi.CodeUnsupported, "", "opapp: message %d: kind %s %s; the route's policy is reject (set policy degrade to send it as text)", i, kind, reason)
	}
	var ok bool
	c.text, p.label, ok = sdk.AppendFallbackText(c.text[:0], msg)
	if !ok {
		p.why = "kind " + kind + " " + reason + ", and it has no text to degrade to"
		return p, nil
	}
	p.typ, p.fallback = "txt", true
	return p, nil
}

// targetOf is the opapp targetType of a canonical recipient type, or "".
func targetOf(toType string) string {
	switch toType {
	case sdk.ToTypeUser:
		return targetUsers
	case sdk.ToTypeGroup:
		return targetGroups
	}
	return ""
}

// batcher accumulates opapp messages into requests of at most size.
type batcher struct {
	out  *sdk.Requests
	cfg  *config
	body *sdk.JSON
	n    int
}

// EncodeRequest turns each (message, user or group) into one opapp
// message, and the messages into batches of options.batch_size.
func (c *codec) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	cfg, err := readConfig(opts, batch)
	if err != nil {
		return err
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	b := batcher{out: out, cfg: &cfg}
	i := -1
	msgs.ForEach(func(_, msg gjson.Result) bool {
		i++
		var p plan
		if p, err = c.planMessage(i, msg, cfg.policy); err != nil {
			return false
		}
		from := msg.Get(sdk.KeyFrom).Str
		if from == "" {
			from = cfg.sender
		}
		sdk.EachRecipient(msg, func(toType, to string) bool {
			tt := targetOf(toType)
			if tt == "" {
				if cfg.policy != sdk.PolicyDegrade {
					err = sdk.Error(abi.CodeUnsupported, "", "opapp: message %d: opapp cannot address recipients of type %s (users and groups only)", i, toType)
					return false
				}
				return true // reported by DecodeResponse
			}
			if p.typ == "" {
				return true // reported by DecodeResponse
			}
			if from == "" {
				err = sdk.Error(abi.CodeBadRequest, "", "opapp: message %d has no sender and opapp requires fromUser; set the route's options.sender", i)
				return false
			}
			c.add(&b, i, msg, &p, from, tt, toType, to)
			return true
		})
		return err == nil
	})
	if err != nil {
		return err
	}
	c.flush(&b)
	return nil
}

// add appends one opapp message, starting a request when needed.
func (c *codec) add(b *batcher, i int, msg gjson.Result, p *plan, from, tt, toType, to string) {
	if b.body == nil {
		b.body = b.out.Begin("POST", sendPath, b.cfg.query, "application/json;charset=UTF-8")
		b.body.Object().KeyString("reqUrl", b.cfg.reqURL).Key("messages").Array()
		c.tag.Reset()
		c.tag.Array()
	}
	body := b.body
	body.Object().KeyString("msgType", p.typ)
	body.Key("msgBody").Object()
	body.KeyString("fromUser", from).KeyString("toUser", to).KeyString("msgType", p.typ)
	c.writeContent(body, msg, p)
	c.writeExt(body, msg)
	body.KeyString("targetType", tt)
	body.End()
	if !p.fallback && (p.typ == "img" || p.typ == "audio" || p.typ == "video" || p.typ == "file") {
		body.KeyString("fileUrl", msg.Get(sdk.KeyMedia).Get(sdk.MediaURL).Str)
	}
	body.End()
	c.tag.Array().Int(int64(i)).String(toType).String(to).String(p.typ)
	if p.label != "" {
		c.tag.String(p.label)
	}
	c.tag.End()
	b.n++
	if b.n == b.cfg.batchSize {
		c.flush(b)
	}
}

// flush ends the open request, if any.
func (c *codec) flush(b *batcher) {
	if b.body == nil {
		return
	}
	b.body.End().End()
	c.tag.End()
	b.out.End(c.tag.Bytes())
	b.body, b.n = nil, 0
}

// writeContent writes the msgBody fields of the message's type.
func (c *codec) writeContent(body *sdk.JSON, msg gjson.Result, p *plan) {
	if p.fallback {
		body.KeyString("msg", sdk.Str(c.text))
		return
	}
	text := msg.Get(sdk.KeyText).Str
	switch p.typ {
	case "txt":
		switch msg.Get(sdk.KeyKind).Str {
		case sdk.KindTemplate:
			if text == "" {
				text = msg.Get(sdk.KeyTemplate).Get(sdk.TemplateContent).Str
			}
		case sdk.KindExtension:
			if text == "" {
				text = msg.Get(sdk.KeyExtension).Get(sdk.ExtensionContent).Str
			}
		}
		body.KeyString("msg", text)
	case "img", "audio", "video", "file":
		m := msg.Get(sdk.KeyMedia)
		body.OptString("msg", text)
		body.OptString("mediaFile", m.Get(sdk.MediaName).Str)
		body.OptString("secret", m.Get(sdk.MediaSecret).Str)
		switch p.typ {
		case "img":
			w, h := m.Get(sdk.MediaWidth).Int(), m.Get(sdk.MediaHeight).Int()
			if w > 0 && h > 0 {
				body.Key("size").Object().KeyInt("width", w).KeyInt("height", h).End()
			}
		case "audio":
			body.OptInt("length", seconds(m.Get(sdk.MediaDurationMS).Int()))
		case "video":
			body.OptString("thumb", m.Get(sdk.MediaThumbURL).Str)
			body.OptInt("length", seconds(m.Get(sdk.MediaDurationMS).Int()))
			body.OptInt("file_length", m.Get(sdk.MediaSize).Int())
			body.OptString("thumb_secret", m.Get(sdk.MediaThumbSecret).Str)
		}
	case "loc":
		loc := msg.Get(sdk.KeyLocation)
		lat, lng := loc.Get(sdk.LocLat), loc.Get(sdk.LocLng)
		addr := loc.Get(sdk.LocAddress).Str
		if addr == "" {
			c.text = append(append(append(c.text[:0], numberText(lat)...), ','), numberText(lng)...)
			addr = sdk.Str(c.text)
		}
		// The address also goes in msg, the one documented content field.
		body.KeyString("msg", addr)
		body.Key("lat").String(numberText(lat))
		body.Key("lng").String(numberText(lng))
		body.KeyString("addr", addr)
	case "cmd":
		action := msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str
		body.KeyString("msg", action)
		body.KeyString("action", action)
	}
}

// writeExt writes msgBody.ext: the message's ext, the getsender keys of
// template and extension, and em_ignore_notification for a silent message
// (opapp forwards ext to Easemob as it is).
func (c *codec) writeExt(body *sdk.JSON, msg gjson.Result) {
	ext := msg.Get(sdk.KeyExt)
	kind := msg.Get(sdk.KeyKind).Str
	silent := sdk.Silent(msg)
	if !ext.IsObject() && !silent && kind != sdk.KindTemplate && kind != sdk.KindExtension {
		return
	}
	body.Key("ext").Object()
	ext.ForEach(func(k, v gjson.Result) bool {
		if (k.Str == "template" && kind == sdk.KindTemplate) || (k.Str == "expandMsg" && kind == sdk.KindExtension) || (k.Str == extSilent && silent) {
			return true
		}
		body.Key(k.Str).Value(v)
		return true
	})
	switch kind {
	case sdk.KindTemplate:
		t := msg.Get(sdk.KeyTemplate)
		body.Key("template").Object().OptValue("templetId", t.Get(sdk.TemplateID)).OptValue("content", t.Get(sdk.TemplateContent)).End()
	case sdk.KindExtension:
		e := msg.Get(sdk.KeyExtension)
		body.Key("expandMsg").Object().OptValue("MsgType", e.Get(sdk.ExtensionType)).OptValue("Content", e.Get(sdk.ExtensionContent)).End()
	}
	if silent {
		body.KeyBool(extSilent, true)
	}
	body.End()
}

// seconds converts milliseconds to whole seconds, never rounding a short
// clip down to 0.
func seconds(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	return max(1, int64(math.Round(float64(ms)/1000)))
}

// numberText is a coordinate as the Easemob body writes it: a string of the
// number's own digits.
func numberText(v gjson.Result) string {
	if v.Type == gjson.Number {
		return v.Raw
	}
	return v.Str
}
