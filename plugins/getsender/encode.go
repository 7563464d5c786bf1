package main

import (
	"math"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// Provider request defaults.
const (
	sendPath     = "/sender/v1/handleBusinessMessage"
	defaultQuery = ""
)

// plan is how one canonical message is carried to getsender.
type plan struct {
	mt       int    // messageType; 0 when the message cannot be sent
	fallback bool   // send c.text as a text (messageType 1)
	label    string // "degraded" of its results
	why      string // why it cannot be sent (mt == 0)
}

// planMessage decides how message i is carried. Under PolicyReject an
// inexact kind is an error; under PolicyDegrade it becomes the fallback
// text (left in c.text), or, when there is none, a plan with no type whose
// recipients are reported as unsupported.
func (c *codec) planMessage(i int, msg gjson.Result, policy sdk.Policy) (plan, error) {
	kind := msg.Get(sdk.KeyKind).Str
	var p plan
	var reason string
	switch kind {
	case sdk.KindText:
		p.mt = 1
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo:
		if msg.Get(sdk.KeyMedia).Get(sdk.MediaURL).Str == "" {
			reason = "has no media url (only another vendor's media_id), and getsender needs one"
			break
		}
		switch kind {
		case sdk.KindImage:
			p.mt = 2
		case sdk.KindAudio:
			p.mt = 3
		default:
			p.mt = 4
		}
	case sdk.KindLocation:
		p.mt = 5
	case sdk.KindCommand:
		if msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str == "" {
			return p, sdk.Error(abi.CodeBadRequest, "", "getsender: message %d: command has no action", i)
		}
		p.mt = 6
	case sdk.KindNews:
		p.mt = 7
		if msg.Get(sdk.KeyVendor).Get(sdk.DialectGetsender).Get("messageType").Int() == 8 {
			p.mt = 8
		}
	case sdk.KindTemplate:
		p.mt = 9
	case sdk.KindExtension:
		p.mt = 10
	case sdk.KindFile, sdk.KindCustom, sdk.KindLink, sdk.KindTip, sdk.KindSystem, sdk.KindSMS, sdk.KindMail:
		reason = "has no getsender messageType"
	default:
		return p, sdk.Error(abi.CodeBadRequest, "", "getsender: message %d: unknown kind %q", i, kind)
	}
	if p.mt != 0 {
		return p, nil
	}
	if policy != sdk.PolicyDegrade {
		return p, sdk.Error(abi.CodeUnsupported, "", "getsender: message %d: kind %s %s; the route's policy is reject (set policy degrade to send it as text)", i, kind, reason)
	}
	var ok bool
	c.text, p.label, ok = sdk.AppendFallbackText(c.text[:0], msg)
	if !ok {
		p.why = "kind " + kind + " " + reason + ", and it has no text to degrade to"
		return p, nil
	}
	p.mt, p.fallback = 1, true
	return p, nil
}

// EncodeRequest turns each (message, user) into one getsender request:
// the API sends one message to one userId.
func (c *codec) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	policy, err := sdk.RoutePolicy(opts)
	if err != nil {
		return err
	}
	sender := sdk.RouteOption(opts, sdk.RouteOptSender)
	query := defaultQuery
	if q := sdk.Get(opts, "query"); q.Type == gjson.String {
		query = q.Str
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	i := -1
	msgs.ForEach(func(_, msg gjson.Result) bool {
		i++
		var p plan
		if p, err = c.planMessage(i, msg, policy); err != nil {
			return false
		}
		from := msg.Get(sdk.KeyFrom).Str
		if from == "" {
			from = sender
		}
		sdk.EachRecipient(msg, func(toType, to string) bool {
			if toType != sdk.ToTypeUser {
				if policy != sdk.PolicyDegrade {
					err = sdk.Error(abi.CodeUnsupported, "", "getsender: message %d: getsender sends to one user (userId); it cannot address recipients of type %s", i, toType)
					return false
				}
				return true // reported by DecodeResponse
			}
			if p.mt == 0 {
				return true // reported by DecodeResponse
			}
			if from == "" {
				err = sdk.Error(abi.CodeBadRequest, "", "getsender: message %d has no sender and getsender requires from; set the route's options.sender", i)
				return false
			}
			body := out.Begin("POST", sendPath, query, "application/json;charset=UTF-8")
			body.Object()
			body.KeyInt("messageType", int64(p.mt))
			body.KeyString("from", from)
			body.KeyString("userId", to)
			body.KeyBool("isDisturb", !sdk.Silent(msg))
			body.Key("messageInfo").Object()
			c.writeInfo(body, msg, &p)
			body.End()
			c.writeExt(body, msg, &p)
			body.End()
			c.tag.Reset()
			c.tag.Object().KeyInt("m", int64(i)).KeyString("to", to).OptString("d", p.label).End()
			out.End(c.tag.Bytes())
			return true
		})
		return err == nil
	})
	return err
}

// writeInfo writes the members of messageInfo for p.mt, as the Easemob
// body of the same type (README, Assumptions).
func (c *codec) writeInfo(body *sdk.JSON, msg gjson.Result, p *plan) {
	if p.fallback {
		body.KeyString("msg", sdk.Str(c.text))
		return
	}
	text := msg.Get(sdk.KeyText).Str
	switch p.mt {
	case 1:
		body.KeyString("msg", text)
	case 2, 3, 4:
		m := msg.Get(sdk.KeyMedia)
		body.KeyString("url", m.Get(sdk.MediaURL).Str)
		body.OptString("filename", m.Get(sdk.MediaName).Str)
		body.OptString("secret", m.Get(sdk.MediaSecret).Str)
		switch p.mt {
		case 2:
			w, h := m.Get(sdk.MediaWidth).Int(), m.Get(sdk.MediaHeight).Int()
			if w > 0 && h > 0 {
				body.Key("size").Object().KeyInt("width", w).KeyInt("height", h).End()
			}
			body.OptString("msg", text)
		case 3:
			body.OptInt("length", seconds(m.Get(sdk.MediaDurationMS).Int()))
		case 4:
			body.OptString("thumb", m.Get(sdk.MediaThumbURL).Str)
			body.OptInt("length", seconds(m.Get(sdk.MediaDurationMS).Int()))
			body.OptInt("file_length", m.Get(sdk.MediaSize).Int())
			body.OptString("thumb_secret", m.Get(sdk.MediaThumbSecret).Str)
			body.OptString("msg", text)
		}
	case 5:
		loc := msg.Get(sdk.KeyLocation)
		lat, lng := loc.Get(sdk.LocLat), loc.Get(sdk.LocLng)
		body.Key("lat").String(numberText(lat))
		body.Key("lng").String(numberText(lng))
		body.OptString("addr", loc.Get(sdk.LocAddress).Str)
	case 6:
		body.KeyString("action", msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str)
	case 7, 8:
		body.OptString("msg", text)
		body.Key("articles").Array()
		msg.Get(sdk.KeyArticles).ForEach(func(_, a gjson.Result) bool {
			body.Object()
			body.OptValue("title", a.Get(sdk.ArticleTitle))
			body.OptValue("description", a.Get(sdk.ArticleDigest))
			body.OptValue("url", a.Get(sdk.ArticleURL))
			body.OptValue("picurl", a.Get(sdk.ArticleCover).Get(sdk.MediaURL))
			body.OptValue("content", a.Get(sdk.ArticleContent))
			body.End()
			return true
		})
		body.End()
	case 9, 10:
		body.OptString("msg", text)
	}
}

// writeExt writes "ext": the message's ext, and the keys this dialect
// keeps there (template, expandMsg, voiceText).
func (c *codec) writeExt(body *sdk.JSON, msg gjson.Result, p *plan) {
	ext := msg.Get(sdk.KeyExt)
	mt := p.mt
	if p.fallback {
		mt = 0
	}
	voice := ""
	if mt == 3 {
		voice = msg.Get(sdk.KeyText).Str
	}
	if !ext.IsObject() && mt != 9 && mt != 10 && voice == "" {
		return
	}
	body.Key("ext").Object()
	ext.ForEach(func(k, v gjson.Result) bool {
		if (mt == 9 && k.Str == extTemplate) || (mt == 10 && k.Str == extExpand) || (voice != "" && k.Str == extVoiceText) {
			return true
		}
		body.Key(k.Str).Value(v)
		return true
	})
	switch mt {
	case 9:
		t := msg.Get(sdk.KeyTemplate)
		body.Key(extTemplate).Object().OptValue("templetId", t.Get(sdk.TemplateID)).OptValue("content", t.Get(sdk.TemplateContent)).End()
	case 10:
		e := msg.Get(sdk.KeyExtension)
		body.Key(extExpand).Object().OptValue("MsgType", e.Get(sdk.ExtensionType)).OptValue("Content", e.Get(sdk.ExtensionContent)).End()
	}
	body.OptString(extVoiceText, voice)
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
