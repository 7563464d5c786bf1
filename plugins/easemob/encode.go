package main

import (
	"math"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// config is what EncodeRequest and DecodeResponse read from the route's
// options.
type config struct {
	org, app string
	legacy   bool
	msgID    bool // legacy only: ?useMsgId=true
	policy   sdk.Policy
	sender   string
}

func readConfig(opts []byte) (config, error) {
	var cfg config
	var err error
	if cfg.policy, err = sdk.RoutePolicy(opts); err != nil {
		return cfg, err
	}
	cfg.org = sdk.RouteOption(opts, sdk.RouteOptOrg)
	cfg.app = sdk.RouteOption(opts, sdk.RouteOptApp)
	if !pathSafe(cfg.org) || !pathSafe(cfg.app) {
		return cfg, sdk.Error(abi.CodeInternal, "options.org", "easemob: options.org and options.app must be set to the org and app names of the Easemob app key (letters, digits, '-', '_', '.')")
	}
	switch ep := sdk.RouteOption(opts, sdk.RouteOptEndpoint); ep {
	case "", sdk.EndpointMessages:
	case sdk.EndpointLegacy:
		cfg.legacy = true
	default:
		return cfg, sdk.Error(abi.CodeInternal, "options.endpoint", "easemob: options.endpoint must be %q or %q, got %q", sdk.EndpointMessages, sdk.EndpointLegacy, ep)
	}
	cfg.msgID = sdk.Get(opts, "use_msg_id").Type != gjson.False
	cfg.sender = sdk.RouteOption(opts, sdk.RouteOptSender)
	return cfg, nil
}

func pathSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// pathCache keeps the request paths of the last org and app, so encoding
// does not build strings per request.
type pathCache struct {
	org, app                       string
	users, groups, rooms, messages string
}

func (p *pathCache) get(cfg *config, t *target) string {
	if p.org != cfg.org || p.app != cfg.app {
		base := "/" + cfg.org + "/" + cfg.app + "/messages"
		p.org, p.app = strings.Clone(cfg.org), strings.Clone(cfg.app)
		p.messages, p.users, p.groups, p.rooms = base, base+"/users", base+"/chatgroups", base+"/chatrooms"
	}
	switch {
	case cfg.legacy:
		return p.messages
	case t == &targetUsers:
		return p.users
	case t == &targetGroups:
		return p.groups
	}
	return p.rooms
}

// plan is how one canonical message is carried to Easemob.
type plan struct {
	typ      string // Easemob type; "" when the message cannot be sent
	fallback bool   // send c.text as txt
	label    string // "degraded" of its results
	why      string // why it cannot be sent (typ == "")
}

// planMessage decides how message i is carried. Under PolicyReject an
// inexact kind is an error; under PolicyDegrade it becomes the fallback
// text, or, when there is none, a plan with no type whose recipients are
// reported as unsupported. The fallback text is left in c.text.
func (c *codec) planMessage(i int, msg gjson.Result, policy sdk.Policy) (plan, error) {
	kind := msg.Get(sdk.KeyKind).Str
	var p plan
	var reason string
	switch kind {
	case sdk.KindText, sdk.KindTemplate, sdk.KindExtension:
		p.typ = "txt"
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo, sdk.KindFile:
		if msg.Get(sdk.KeyMedia).Get(sdk.MediaURL).Str != "" {
			p.typ = emTypeOf(kind)
		} else {
			reason = "has no media url (only another vendor's media_id), and Easemob needs one"
		}
	case sdk.KindLocation:
		p.typ = "loc"
	case sdk.KindCommand:
		if msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str == "" {
			return p, sdk.Error(abi.CodeBadRequest, "", "easemob: message %d: command has no action", i)
		}
		p.typ = "cmd"
	case sdk.KindCustom:
		p.typ = "custom"
	case sdk.KindNews, sdk.KindLink, sdk.KindTip, sdk.KindSystem, sdk.KindSMS, sdk.KindMail:
		reason = "has no Easemob equivalent"
	default:
		return p, sdk.Error(abi.CodeBadRequest, "", "easemob: message %d: unknown kind %q", i, kind)
	}
	if p.typ != "" {
		return p, nil
	}
	if policy != sdk.PolicyDegrade {
		return p, sdk.Error(abi.CodeUnsupported, "", "easemob: message %d: kind %s %s; the route's policy is reject (set policy degrade to send it as text)", i, kind, reason)
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

func emTypeOf(kind string) string {
	for _, t := range types {
		if t.kind == kind {
			return t.em
		}
	}
	return ""
}

// unsupportedLists are the canonical recipient lists Easemob cannot address.
var unsupportedLists = [...]string{sdk.ToDepartments, sdk.ToEmails}

// checkRecipients rejects, under PolicyReject, recipients Easemob cannot
// address (departments, emails, everyone). Under PolicyDegrade they are
// skipped and DecodeResponse reports them as unsupported.
func checkRecipients(i int, msg gjson.Result, policy sdk.Policy) error {
	if policy == sdk.PolicyDegrade {
		return nil
	}
	var bad string
	sdk.EachRecipient(msg, func(toType, _ string) bool {
		if toType != sdk.ToTypeUser && toType != sdk.ToTypeGroup && toType != sdk.ToTypeRoom {
			bad = toType
			return false
		}
		return true
	})
	if bad != "" {
		return sdk.Error(abi.CodeUnsupported, "", "easemob: message %d: Easemob cannot address recipients of type %s (users, groups and rooms only)", i, bad)
	}
	return nil
}

// EncodeRequest turns each message into one Easemob request per recipient
// kind and per chunk of at most 600 users, 3 groups or 10 rooms.
func (c *codec) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	cfg, err := readConfig(opts)
	if err != nil {
		return err
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	i := -1
	msgs.ForEach(func(_, msg gjson.Result) bool {
		i++
		var p plan
		if p, err = c.planMessage(i, msg, cfg.policy); err != nil {
			return false
		}
		if err = checkRecipients(i, msg, cfg.policy); err != nil {
			return false
		}
		if p.typ == "" {
			return true // reported by DecodeResponse
		}
		to := msg.Get(sdk.KeyTo)
		for _, t := range targets {
			c.encodeList(out, &cfg, i, msg, &p, t, to.Get(t.list))
		}
		return true
	})
	return err
}

// encodeList writes the requests of one recipient list, in chunks.
func (c *codec) encodeList(out *sdk.Requests, cfg *config, i int, msg gjson.Result, p *plan, t *target, list gjson.Result) {
	if !list.IsArray() {
		return
	}
	var body *sdk.JSON
	n := 0
	list.ForEach(func(_, id gjson.Result) bool {
		if id.Type != gjson.String || id.Str == "" {
			return true
		}
		if n == 0 {
			body = c.begin(out, cfg, i, msg, t)
		}
		body.String(id.Str)
		c.tag.String(id.Str)
		n++
		if n == t.max {
			c.finish(out, body, cfg, msg, p, t)
			n = 0
		}
		return true
	})
	if n > 0 {
		c.finish(out, body, cfg, msg, p, t)
	}
}

// begin starts a request and its tag, up to the open recipient array.
func (c *codec) begin(out *sdk.Requests, cfg *config, i int, msg gjson.Result, t *target) *sdk.JSON {
	query := ""
	if cfg.legacy && cfg.msgID {
		query = "useMsgId=true"
	}
	body := out.Begin("POST", c.paths.get(cfg, t), query, "application/json")
	body.Object()
	from := msg.Get(sdk.KeyFrom).Str
	if from == "" {
		from = cfg.sender
	}
	body.OptString("from", from)
	if cfg.legacy {
		body.KeyString("target_type", t.name).Key("target").Array()
	} else {
		body.Key("to").Array()
	}
	c.tag.Reset()
	c.tag.Object().KeyInt("m", int64(i)).KeyString("t", t.toType).Key("to").Array()
	return body
}

// finish closes the recipient array, writes the rest of the body and ends
// the request with its tag.
func (c *codec) finish(out *sdk.Requests, body *sdk.JSON, cfg *config, msg gjson.Result, p *plan, t *target) {
	body.End()
	if cfg.legacy {
		body.Key("msg").Object().KeyString("type", p.typ)
		c.writeContent(body, msg, p)
		body.End()
	} else {
		body.KeyString("type", p.typ)
		body.Key("body").Object()
		c.writeContent(body, msg, p)
		body.End()
	}
	c.writeExt(body, msg)
	opts := msg.Get(sdk.KeyOptions)
	body.OptBool("sync_device", opts.Get(sdk.OptSyncSender).Type == gjson.True)
	if opts.Get(sdk.OptOnlineOnly).Type == gjson.True {
		body.KeyString("routetype", routeOnline)
	}
	if v := msg.Get(sdk.KeyVendor).Get(sdk.DialectEasemob); v.IsObject() {
		if !cfg.legacy {
			body.OptValue("roam_ignore_users", v.Get("roam_ignore_users"))
		}
		if t == &targetGroups && !cfg.legacy {
			if ack := v.Get("need_group_ack"); ack.Type == gjson.True || ack.Type == gjson.False {
				body.KeyValue("need_group_ack", ack)
			}
		}
		if t == &targetRooms {
			body.OptValue("chatroom_msg_level", v.Get("chatroom_msg_level"))
		}
	}
	body.End()
	c.tag.End()
	c.tag.OptString("d", p.label)
	c.tag.End()
	out.End(c.tag.Bytes())
}

// writeContent writes the members of the Easemob body for p.typ.
func (c *codec) writeContent(body *sdk.JSON, msg gjson.Result, p *plan) {
	if p.fallback {
		body.KeyString("msg", sdk.Str(c.text))
		return
	}
	switch p.typ {
	case "txt":
		text := msg.Get(sdk.KeyText).Str
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
		body.KeyString("url", m.Get(sdk.MediaURL).Str)
		body.OptString("filename", m.Get(sdk.MediaName).Str)
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
		body.Key("lat").String(numberText(lat))
		body.Key("lng").String(numberText(lng))
		addr := loc.Get(sdk.LocAddress).Str
		if addr == "" {
			// Easemob requires addr: the coordinates stand in for it.
			c.text = append(append(append(c.text[:0], numberText(lat)...), ','), numberText(lng)...)
			addr = sdk.Str(c.text)
		}
		body.KeyString("addr", addr)
	case "cmd":
		body.KeyString("action", msg.Get(sdk.KeyCommand).Get(sdk.CommandAction).Str)
	case "custom":
		cu := msg.Get(sdk.KeyCustom)
		body.OptString("customEvent", cu.Get(sdk.CustomEvent).Str)
		fields, data, sub := cu.Get(sdk.CustomFields), cu.Get(sdk.CustomData), cu.Get(sdk.CustomSubType)
		if fields.IsObject() || data.Exists() || sub.Exists() {
			wrote := false
			open := func() {
				if !wrote {
					body.Key("customExts").Object()
					wrote = true
				}
			}
			fields.ForEach(func(k, v gjson.Result) bool {
				open()
				// customExts is Map<String,String>: other values travel as
				// their JSON text.
				if v.Type == gjson.String {
					body.Key(k.Str).String(v.Str)
				} else {
					body.Key(k.Str).String(v.Raw)
				}
				return true
			})
			if data.Exists() && data.Type != gjson.Null {
				open()
				body.Key("data").String(data.Raw)
			}
			if sub.Type == gjson.Number {
				open()
				body.Key("sub_type").String(sub.Raw)
			}
			if wrote {
				body.End()
			}
		}
	}
}

// writeExt writes "ext": the message's ext, the lifted getsender keys for
// template and extension, and the delivery options Easemob keeps there.
func (c *codec) writeExt(body *sdk.JSON, msg gjson.Result) {
	ext := msg.Get(sdk.KeyExt)
	kind := msg.Get(sdk.KeyKind).Str
	silent := sdk.Silent(msg)
	push := sdk.Option(msg, sdk.OptPushText).Str
	hasAPNs := ext.Get(extAPNs).Exists()
	if !ext.IsObject() && !silent && push == "" && kind != sdk.KindTemplate && kind != sdk.KindExtension {
		return
	}
	body.Key("ext").Object()
	ext.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case extSilent:
			if silent {
				return true
			}
		case "template":
			if kind == sdk.KindTemplate {
				return true
			}
		case "expandMsg":
			if kind == sdk.KindExtension {
				return true
			}
		}
		body.Key(k.Str).Value(v)
		return true
	})
	switch kind {
	case sdk.KindTemplate:
		t := msg.Get(sdk.KeyTemplate)
		body.Key("template").Object()
		body.OptValue("templetId", t.Get(sdk.TemplateID))
		body.OptValue("content", t.Get(sdk.TemplateContent))
		body.End()
	case sdk.KindExtension:
		e := msg.Get(sdk.KeyExtension)
		body.Key("expandMsg").Object()
		body.OptValue("MsgType", e.Get(sdk.ExtensionType))
		body.OptValue("Content", e.Get(sdk.ExtensionContent))
		body.End()
	}
	if silent {
		body.KeyBool(extSilent, true)
	}
	if push != "" && !hasAPNs {
		body.Key(extAPNs).Object().KeyString(extPushContent, push).End()
	}
	body.End()
}

// seconds converts canonical milliseconds to Easemob's whole seconds,
// rounding to the nearest and never turning a short clip into 0.
func seconds(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	s := int64(math.Round(float64(ms) / 1000))
	if s == 0 {
		s = 1
	}
	return s
}

// numberText is a coordinate as Easemob writes it: the number's own digits.
func numberText(v gjson.Result) string {
	if v.Type == gjson.Number {
		return v.Raw
	}
	return v.Str
}
