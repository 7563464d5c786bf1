package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// codec is the NetEase codec. Its buffers are reused from call to call:
// one guest instance runs one hook at a time.
type codec struct {
	// decode
	form []formField
	buf  []byte // decoded escapes; form values and ids are views into it

	// encode
	content sdk.JSON // v2 message object or v1 body of the current message
	mcfg    sdk.JSON // v2 message_config, or v1 option
	pcfg    sdk.JSON // v2 push_config
	desc    string   // v1 msgDesc
	subType int64    // v1 subType
	scratch []byte
	form2   []byte // a v1 form body
	path    []byte
	tag     []byte
	users   []string
	groups  []string
	rooms   []string

	skipped error // why the last EncodeRequest skipped recipients

	// responses
	msgs  []gjson.Result
	index map[string]int
	seen  []bool
}

// routeOptions are the route options the encoder reads.
type routeOptions struct {
	policy sdk.Policy
	v1     bool
	sender string
	batch  int
	prefix string
	// The paths of the fixed endpoints under prefix.
	v2Batch, v1Send, v1Batch string
}

func readOptions(opts []byte) (routeOptions, error) {
	o := routeOptions{batch: defaultBatch, prefix: nimserver}
	var err error
	if o.policy, err = sdk.RoutePolicy(opts); err != nil {
		return o, err
	}
	root := gjson.Parse(str(opts))
	switch api := root.Get(sdk.RouteOptAPI); {
	case !api.Exists() || api.Type == gjson.Null || api.Str == sdk.APIV2 && api.Type == gjson.String:
	case api.Type == gjson.String && api.Str == sdk.APIV1:
		o.v1 = true
	default:
		return o, sdk.Error(abi.CodeInternal, "options.api", "netease: options.api must be %q or %q, got %s", sdk.APIV2, sdk.APIV1, api.Raw)
	}
	if s := root.Get(sdk.RouteOptSender); s.Type == gjson.String {
		o.sender = s.Str
	}
	if b := root.Get("batch_size"); b.Exists() {
		n, ok := integer(b)
		if !ok || n < 1 || n > maxBatchV2 {
			return o, sdk.Error(abi.CodeInternal, "options.batch_size", "netease: options.batch_size must be an integer from 1 to %d, got %s", maxBatchV2, b.Raw)
		}
		o.batch = int(n)
	}
	if o.v1 && o.batch > maxBatchV1ID {
		o.batch = maxBatchV1ID
	}
	if p := root.Get("prefix"); p.Exists() {
		if p.Type != gjson.String || p.Str != "" && (p.Str[0] != '/' || strings.HasSuffix(p.Str, "/") || checkSafe(strings.ReplaceAll(p.Str[1:], "/", "_")) != "") {
			return o, sdk.Error(abi.CodeInternal, "options.prefix", "netease: options.prefix must be \"\" or a path like \"/nimserver\", got %s", p.Raw)
		}
		o.prefix = p.Str
	}
	if o.prefix == nimserver {
		o.v2Batch, o.v1Send, o.v1Batch = nimserver+pathV2Batch, nimserver+pathV1, nimserver+pathV1Batch
	} else {
		o.v2Batch, o.v1Send, o.v1Batch = o.prefix+pathV2Batch, o.prefix+pathV1, o.prefix+pathV1Batch
	}
	return o, nil
}

// message holds the members of a canonical message, read in one pass.
type message struct {
	kind, text, from, id                 string
	to, media, location, custom, command gjson.Result
	options, ext, vendor, raw            gjson.Result
}

func readMessage(m gjson.Result) message {
	msg := message{raw: m}
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case sdk.KeyKind:
			msg.kind = v.Str
		case sdk.KeyText:
			msg.text = v.Str
		case sdk.KeyFrom:
			msg.from = v.Str
		case sdk.KeyID:
			msg.id = v.Str
		case sdk.KeyTo:
			msg.to = v
		case sdk.KeyMedia:
			msg.media = v
		case sdk.KeyLocation:
			msg.location = v
		case sdk.KeyCustom:
			msg.custom = v
		case sdk.KeyCommand:
			msg.command = v
		case sdk.KeyOptions:
			msg.options = v
		case sdk.KeyExt:
			msg.ext = v
		case sdk.KeyVendor:
			msg.vendor = v.Get(sdk.DialectNetease)
		}
		return true
	})
	return msg
}

// EncodeRequest turns each canonical message into NetEase requests: with
// api v2 (the default) a conversation message per P2P receiver, team and
// super team, or a batch message for several P2P receivers; with api v1
// sendMsg.action per receiver and team, or sendBatchMsg.action.
func (c *codec) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	o, err := readOptions(opts)
	if err != nil {
		return err
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	c.skipped = nil
	i := 0
	msgs.ForEach(func(_, m gjson.Result) bool {
		err = c.encodeMessage(i, m, &o, out)
		i++
		return err == nil
	})
	if err == nil && out.Len() == 0 && c.skipped != nil {
		// Every recipient was one NetEase cannot address: nothing to send.
		return c.skipped
	}
	return err
}

func (c *codec) encodeMessage(i int, m gjson.Result, o *routeOptions, out *sdk.Requests) error {
	if !m.IsObject() {
		return sdk.Error(abi.CodeInternal, sdk.MessageField(i, ""), "netease: a canonical message must be an object")
	}
	msg := readMessage(m)
	if err := c.readRecipients(i, &msg, o); err != nil {
		return err
	}
	if len(c.users)+len(c.groups)+len(c.rooms) == 0 {
		return nil // only recipients NetEase cannot address: DecodeResponse reports them
	}
	sender := msg.from
	if sender == "" {
		sender = o.sender
	}
	if sender == "" {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyFrom), "netease needs a sender account: the message has no from, and the route sets no sender option")
	}
	if why := checkSafe(sender); why != "" {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyFrom), "%s %s", sdk.Quote(sender), why)
	}
	typ, label, err := c.buildContent(i, &msg, o)
	if err != nil {
		return err
	}
	// A client message id identifies one send; repeating it in several
	// requests could make NetEase drop all but one as duplicates.
	nu := len(c.users)
	single := len(c.groups)+len(c.rooms)+(nu+o.batch-1)/o.batch == 1
	if o.v1 {
		return c.encodeV1(i, &msg, sender, typ, label, o, out)
	}
	c.buildContent2(&msg, typ, single)
	c.buildConfigV2(&msg)
	if nu == 1 {
		c.conversation(i, 'u', 0, '1', sender, c.users[0], &msg, label, o, out)
	} else {
		for lo := 0; lo < nu; lo += o.batch {
			hi := min(lo+o.batch, nu)
			c.beginTag("2b", i, 'u', lo, hi, label)
			body := out.Begin("POST", o.v2Batch, "", "application/json;charset=UTF-8")
			body.Object().Key("sender_id").String(sender)
			body.Key("receiver_ids").Array()
			for _, u := range c.users[lo:hi] {
				body.String(u)
			}
			body.End()
			c.writeBodyV2(body, &msg)
			out.End(c.tag)
		}
	}
	for j, g := range c.groups {
		c.conversation(i, 'g', j, '2', sender, g, &msg, label, o, out)
	}
	for j, r := range c.rooms {
		c.conversation(i, 'r', j, '3', sender, r, &msg, label, o, out)
	}
	return nil
}

// conversation adds one v2 conversation message request.
func (c *codec) conversation(i int, t byte, j int, convType byte, sender, receiver string, msg *message, label string, o *routeOptions, out *sdk.Requests) {
	c.beginTag("2c", i, t, j, j+1, label)
	c.scratch = append(c.scratch[:0], sender...)
	c.scratch = append(c.scratch, '|', convType, '|')
	c.scratch = append(c.scratch, receiver...)
	c.path = append(c.path[:0], o.prefix...)
	c.path = append(c.path, pathV2Conv...)
	c.path = appendPathEscape(c.path, str(c.scratch))
	c.path = append(c.path, "/messages"...)
	body := out.Begin("POST", str(c.path), "", "application/json;charset=UTF-8")
	body.Object()
	c.writeBodyV2(body, msg)
	out.End(c.tag)
}

// writeBodyV2 writes the members every v2 request of msg shares, and
// closes the body object.
func (c *codec) writeBodyV2(body *sdk.JSON, msg *message) {
	body.Key("message").Raw(c.content.Bytes())
	if c.mcfg.Len() > 0 {
		body.Key("message_config").Raw(c.mcfg.Bytes())
	}
	if c.pcfg.Len() > 0 {
		body.Key("push_config").Raw(c.pcfg.Bytes())
	}
	wroteExt := false
	if msg.ext.IsObject() {
		body.Key("extension").String(msg.ext.Raw)
		wroteExt = true
	}
	// Members only a NetEase v2 client wrote, carried as they were.
	msg.vendor.Get("v2").ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "message", "sender_id", "receiver_ids", "message_config", "push_config":
			return true
		case "extension":
			if wroteExt {
				return true
			}
		}
		body.Key(k.Str).RawString(v.Raw)
		return true
	})
	body.End()
}

// readRecipients fills c.users, c.groups and c.rooms from msg.to. Lists
// NetEase cannot address (departments, e-mail addresses, the whole
// organisation; super teams in v1) are unsupported; with policy degrade
// they are skipped instead, and DecodeResponse reports each of their
// recipients as not sent.
func (c *codec) readRecipients(i int, msg *message, o *routeOptions) error {
	c.users, c.groups, c.rooms = c.users[:0], c.groups[:0], c.rooms[:0]
	to := msg.to
	if !to.IsObject() {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyTo), "a message needs recipients")
	}
	var err error
	skipped := false
	skip := func(list string) {
		e := sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, "to."+list), "%s", unaddressable(list, o.v1))
		if o.policy != sdk.PolicyDegrade {
			err = e
			return
		}
		skipped = true
		if c.skipped == nil {
			c.skipped = e
		}
	}
	to.ForEach(func(k, v gjson.Result) bool {
		var list *[]string
		switch k.Str {
		case sdk.ToUsers:
			list = &c.users
		case sdk.ToGroups:
			list = &c.groups
		case sdk.ToRooms:
			if o.v1 {
				if hasEntry(v) {
					skip(k.Str)
				}
				return err == nil
			}
			list = &c.rooms
		case sdk.ToDepartments, sdk.ToEmails:
			if hasEntry(v) {
				skip(k.Str)
			}
			return err == nil
		case sdk.ToAll:
			if v.Type == gjson.True {
				skip(k.Str)
			}
			return err == nil
		default:
			return true
		}
		*list, err = sdk.AppendRecipients(*list, i, k.Str, v, checkSafe)
		return err == nil
	})
	if err != nil {
		return err
	}
	if len(c.users)+len(c.groups)+len(c.rooms) == 0 && !skipped {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyTo), "a message needs at least one user, group or room")
	}
	return nil
}

// unaddressable is the reason a recipient list cannot be sent to.
func unaddressable(list string, v1 bool) string {
	switch list {
	case sdk.ToAll:
		return "netease has no message to the whole organisation: name the accounts or teams"
	case sdk.ToRooms:
		if v1 {
			return "netease v1 sendMsg.action cannot send to a super team: use the route option api v2"
		}
	}
	return "netease: messages go to accounts, teams and super teams; they cannot be sent to " + list
}

// hasEntry reports whether the recipient list v has a non-empty entry.
func hasEntry(v gjson.Result) bool {
	found := false
	v.ForEach(func(_, id gjson.Result) bool {
		found = id.Type == gjson.String && id.Str != ""
		return !found
	})
	return found
}

// typeOf maps a canonical kind NetEase carries exactly to its type.
func typeOf(kind string) int64 {
	switch kind {
	case sdk.KindText:
		return typeText
	case sdk.KindImage:
		return typeImage
	case sdk.KindAudio:
		return typeAudio
	case sdk.KindVideo:
		return typeVideo
	case sdk.KindLocation:
		return typeLocation
	case sdk.KindFile:
		return typeFile
	case sdk.KindTip:
		return typeTip
	case sdk.KindCustom:
		return typeCustom
	}
	return -1
}

// buildContent writes the message's content into c.content: the v1 body,
// or the v2 attachment (buildContent2 wraps it in the message object). It
// returns the NetEase type and, when degraded, what the message became.
func (c *codec) buildContent(i int, msg *message, o *routeOptions) (int64, string, error) {
	p := &c.content
	p.Reset()
	c.desc, c.subType = "", 0
	if msg.kind != sdk.KindText && msg.kind != sdk.KindTip {
		c.desc = msg.text
	}
	switch msg.kind {
	case sdk.KindText, sdk.KindTip:
		if msg.text == "" {
			return 0, "", sdk.BadField(sdk.MessageField(i, sdk.KeyText), "a %s message needs a text", msg.kind)
		}
		if o.v1 {
			p.Object().Key("msg").String(msg.text).End()
		}
		return typeOf(msg.kind), "", nil
	case sdk.KindImage, sdk.KindAudio, sdk.KindVideo, sdk.KindFile:
		if msg.media.Get(sdk.MediaURL).Str == "" {
			return c.degradeToText(i, msg, o, "it has no url (a media id another vendor issued cannot be fetched by NetEase clients)")
		}
		writeAttachment(p, msg.kind, msg.media, o.v1)
		return typeOf(msg.kind), "", nil
	case sdk.KindLocation:
		lat, lng := msg.location.Get(sdk.LocLat), msg.location.Get(sdk.LocLng)
		if lat.Type != gjson.Number || lng.Type != gjson.Number {
			return 0, "", sdk.BadField(sdk.MessageField(i, sdk.KeyLocation), "a location needs lat and lng numbers")
		}
		p.Object()
		if a := msg.location.Get(sdk.LocAddress).Str; a != "" {
			p.Key("title").String(a)
		}
		p.Key("lng").RawString(lng.Raw).Key("lat").RawString(lat.Raw).End()
		return typeLocation, "", nil
	case sdk.KindCustom:
		cu := msg.custom
		c.subType = cu.Get(sdk.CustomSubType).Int()
		data := cu.Get(sdk.CustomData)
		switch {
		case data.IsObject() || data.Exists() && data.Type != gjson.Null && !o.v1:
			p.RawString(data.Raw)
		case data.Exists() && data.Type != gjson.Null:
			// A v1 body is a JSON object.
			p.Object().Key("data").RawString(data.Raw).End()
		case cu.Get(sdk.CustomEvent).Str != "" || cu.Get(sdk.CustomFields).IsObject():
			p.Object()
			if e := cu.Get(sdk.CustomEvent).Str; e != "" {
				p.Key("event").String(e)
			}
			if f := cu.Get(sdk.CustomFields); f.IsObject() {
				p.Key("fields").RawString(f.Raw)
			}
			p.End()
		default:
			return 0, "", sdk.BadField(sdk.MessageField(i, sdk.KeyCustom), "a custom message needs custom.data, or an event or fields")
		}
		return typeCustom, "", nil
	case sdk.KindCommand:
		if o.policy != sdk.PolicyDegrade {
			return 0, "", unsupported(i, msg.kind, "NetEase has no pass-through command", "a custom message (type 100) {\"type\":\"command\",\"action\":...}")
		}
		p.Object().Key("type").String("command").Key("action").String(msg.command.Get(sdk.CommandAction).Str).End()
		return typeCustom, "command→custom", nil
	case sdk.KindNews, sdk.KindLink, sdk.KindTemplate, sdk.KindSystem, sdk.KindSMS, sdk.KindMail, sdk.KindExtension:
		return c.degradeToText(i, msg, o, "NetEase has no "+msg.kind+" message")
	}
	return 0, "", sdk.BadField(sdk.MessageField(i, sdk.KeyKind), "%s is not a canonical message kind", sdk.Quote(msg.kind))
}

func unsupported(i int, kind, why, fallback string) error {
	return sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyKind),
		"netease cannot carry this %s message exactly: %s (route policy reject; policy degrade sends %s)", kind, why, fallback)
}

// degradeToText sends msg as a text (sdk.AppendFallbackText) when the
// route degrades.
func (c *codec) degradeToText(i int, msg *message, o *routeOptions, why string) (int64, string, error) {
	if o.policy != sdk.PolicyDegrade {
		return 0, "", unsupported(i, msg.kind, why, "a text")
	}
	var label string
	var ok bool
	c.scratch, label, ok = sdk.AppendFallbackText(c.scratch[:0], msg.raw)
	if !ok {
		return 0, "", sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyKind), "netease cannot carry this %s message, and it has no text to degrade to", msg.kind)
	}
	c.desc = ""
	c.content.Reset()
	if o.v1 {
		c.content.Object().Key("msg").StringBytes(c.scratch).End()
	} else {
		// buildContent2 reads the text from desc for a degraded message.
		c.desc = string(c.scratch)
	}
	return typeText, label, nil
}

// writeAttachment writes a canonical media as a NetEase attachment (v2)
// or body (v1). v1 names the size w/h; v2 width/height. Durations are
// milliseconds on both sides (dur).
func writeAttachment(p *sdk.JSON, kind string, m gjson.Result, v1 bool) {
	p.Object()
	name := m.Get(sdk.MediaName).Str
	url := m.Get(sdk.MediaURL).Str
	if name != "" && kind != sdk.KindAudio {
		p.Key("name").String(name)
	}
	if md5 := m.Get(sdk.MediaMD5).Str; md5 != "" {
		p.Key("md5").String(md5)
	}
	p.Key("url").String(url)
	ext := m.Get(sdk.MediaExt).Str
	if ext == "" {
		ext = extOf(name)
	}
	if ext == "" {
		ext = extOf(urlPath(url))
	}
	if ext != "" {
		p.Key("ext").String(ext)
	}
	if kind == sdk.KindAudio || kind == sdk.KindVideo {
		if d := m.Get(sdk.MediaDurationMS); d.Type == gjson.Number {
			p.Key("dur").Int(d.Int())
		}
	}
	if kind == sdk.KindImage || kind == sdk.KindVideo {
		w, h := "width", "height"
		if v1 {
			w, h = "w", "h"
		}
		if v := m.Get(sdk.MediaWidth); v.Type == gjson.Number {
			p.Key(w).Int(v.Int())
		}
		if v := m.Get(sdk.MediaHeight); v.Type == gjson.Number {
			p.Key(h).Int(v.Int())
		}
	}
	if v := m.Get(sdk.MediaSize); v.Type == gjson.Number {
		p.Key("size").Int(v.Int())
	}
	p.End()
}

// extOf returns the extension of a file name: 1 to 8 letters or digits
// after the last dot, lowercased when ASCII; "" otherwise.
func extOf(name string) string {
	j := strings.LastIndexByte(name, '.')
	if j < 0 || j == len(name)-1 || len(name)-j-1 > 8 {
		return ""
	}
	e := name[j+1:]
	for k := 0; k < len(e); k++ {
		c := e[k]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			if 'A' <= c && c <= 'Z' {
				return strings.ToLower(e)
			}
			return ""
		}
	}
	return e
}

// urlPath returns the last path segment of a URL, without query.
func urlPath(u string) string {
	if j := strings.IndexAny(u, "?#"); j >= 0 {
		u = u[:j]
	}
	if j := strings.LastIndexByte(u, '/'); j >= 0 {
		u = u[j+1:]
	}
	return u
}

// buildContent2 turns c.content (the attachment, if any) into the v2
// message object.
func (c *codec) buildContent2(msg *message, typ int64, single bool) {
	c.scratch = append(c.scratch[:0], c.content.Bytes()...)
	p := &c.content
	p.Reset()
	p.Object().Key("message_type").Int(typ)
	switch {
	case typ == typeText || typ == typeTip:
		text := msg.text
		if c.desc != "" { // degraded to text
			text = c.desc
		}
		p.Key("text").String(text)
	case c.desc != "":
		p.Key("text").String(c.desc)
	}
	if len(c.scratch) > 0 {
		p.Key("attachment").Raw(c.scratch)
	}
	if typ == typeCustom && c.subType > 0 {
		p.Key("sub_type").Int(c.subType)
	}
	if single && msg.id != "" {
		p.Key("message_client_id").String(msg.id)
	}
	p.End()
}

// buildConfigV2 writes message_config and push_config: the canonical
// options first, then what a NetEase v2 client set that the model has no
// place for.
func (c *codec) buildConfigV2(msg *message) {
	o := msg.options
	mc, pc := &c.mcfg, &c.pcfg
	mc.Reset()
	pc.Reset()
	var w writtenKeys
	for _, k := range [...][2]string{
		{sdk.OptHistory, "history_enabled"}, {sdk.OptRoam, "roaming_enabled"}, {sdk.OptSyncSender, "mutil_sync_enabled"},
	} {
		if v := o.Get(k[0]); isBool(v) {
			w.open(mc).Key(k[1]).Bool(v.Type == gjson.True)
			w.add(k[1])
		}
	}
	if o.Get(sdk.OptOnlineOnly).Type == gjson.True {
		w.open(mc).Key("offline_enabled").Bool(false)
		w.add("offline_enabled")
	}
	w.merge(mc, msg.vendor.Get("v2.message_config"))
	w = writtenKeys{}
	if o.Get(sdk.OptSilent).Type == gjson.True {
		w.open(pc).Key("push_enabled").Bool(false)
		w.add("push_enabled")
	}
	if t := o.Get(sdk.OptPushText).Str; t != "" {
		w.open(pc).Key("push_content").String(t)
		w.add("push_content")
	}
	w.merge(pc, msg.vendor.Get("v2.push_config"))
}

// writtenKeys tracks an object being built from canonical options and
// then completed with vendor members the options did not set.
type writtenKeys struct {
	keys   [6]string
	n      int
	opened bool
}

func (w *writtenKeys) open(j *sdk.JSON) *sdk.JSON {
	if !w.opened {
		j.Object()
		w.opened = true
	}
	return j
}

func (w *writtenKeys) add(k string) {
	if w.n < len(w.keys) {
		w.keys[w.n] = k
		w.n++
	}
}

func (w *writtenKeys) has(k string) bool {
	for _, x := range w.keys[:w.n] {
		if x == k {
			return true
		}
	}
	return false
}

// merge adds the members of vendor not written yet and closes the object
// if one was opened.
func (w *writtenKeys) merge(j *sdk.JSON, vendor gjson.Result) {
	if vendor.IsObject() {
		vendor.ForEach(func(k, v gjson.Result) bool {
			if !w.has(k.Str) {
				w.open(j).Key(k.Str).RawString(v.Raw)
			}
			return true
		})
	}
	if w.opened {
		j.End()
	}
}

// v1Written lists the form fields the v1 encoder writes itself; a vendor
// field of the same name is not repeated. ext and subType are written only
// when the model has them (an ext object, a custom sub type), so a vendor
// ext or subType stays otherwise.
func v1Written(k string) bool {
	switch k {
	case "from", "ope", "to", "fromAccid", "toAccids", "type", "body", "msgDesc",
		"option", "pushcontent", "pushContent", "returnMsgid":
		return true
	}
	return false
}

// encodeV1 adds the v1 requests of one message.
func (c *codec) encodeV1(i int, msg *message, sender string, typ int64, label string, o *routeOptions, out *sdk.Requests) error {
	c.buildOptionV1(msg)
	nu := len(c.users)
	if nu == 1 {
		c.sendMsgV1(i, 'u', 0, "0", sender, c.users[0], msg, typ, label, o, out)
	} else {
		for lo := 0; lo < nu; lo += o.batch {
			hi := min(lo+o.batch, nu)
			c.beginTag("1b", i, 'u', lo, hi, label)
			f := append(c.form2[:0], "fromAccid="...)
			f = appendQueryEscape(f, sender)
			f = append(f, "&toAccids="...)
			c.scratch = append(c.scratch[:0], '[')
			for j, u := range c.users[lo:hi] {
				if j > 0 {
					c.scratch = append(c.scratch, ',')
				}
				c.scratch = abi.AppendJSONString(c.scratch, u)
			}
			c.scratch = append(c.scratch, ']')
			f = appendQueryEscape(f, str(c.scratch))
			f = c.appendFormV1(f, msg, typ)
			f = append(f, "&returnMsgid=true"...)
			f = c.appendVendorV1(f, msg, typ)
			c.form2 = f
			out.Add("POST", o.v1Batch, "", "application/x-www-form-urlencoded;charset=UTF-8", f, c.tag)
		}
	}
	for j, g := range c.groups {
		c.sendMsgV1(i, 'g', j, "1", sender, g, msg, typ, label, o, out)
	}
	return nil
}

func (c *codec) sendMsgV1(i int, t byte, j int, ope, sender, to string, msg *message, typ int64, label string, o *routeOptions, out *sdk.Requests) {
	c.beginTag("1s", i, t, j, j+1, label)
	f := append(c.form2[:0], "from="...)
	f = appendQueryEscape(f, sender)
	f = append(f, "&ope="...)
	f = append(f, ope...)
	f = append(f, "&to="...)
	f = appendQueryEscape(f, to)
	f = c.appendFormV1(f, msg, typ)
	f = c.appendVendorV1(f, msg, typ)
	c.form2 = f
	out.Add("POST", o.v1Send, "", "application/x-www-form-urlencoded;charset=UTF-8", f, c.tag)
}

// appendFormV1 appends the fields every v1 request of a message shares.
func (c *codec) appendFormV1(f []byte, msg *message, typ int64) []byte {
	f = append(f, "&type="...)
	f = strconv.AppendInt(f, typ, 10)
	f = append(f, "&body="...)
	f = appendQueryEscape(f, str(c.content.Bytes()))
	if c.desc != "" {
		f = append(f, "&msgDesc="...)
		f = appendQueryEscape(f, c.desc)
	}
	if c.mcfg.Len() > 0 {
		f = append(f, "&option="...)
		f = appendQueryEscape(f, str(c.mcfg.Bytes()))
	}
	if t := msg.options.Get(sdk.OptPushText).Str; t != "" {
		f = append(f, "&pushcontent="...)
		f = appendQueryEscape(f, t)
	}
	if msg.ext.IsObject() {
		f = append(f, "&ext="...)
		f = appendQueryEscape(f, msg.ext.Raw)
	}
	if typ == typeCustom && c.subType > 0 {
		f = append(f, "&subType="...)
		f = strconv.AppendInt(f, c.subType, 10)
	}
	return f
}

// appendVendorV1 appends the form fields only a NetEase v1 client wrote.
func (c *codec) appendVendorV1(f []byte, msg *message, typ int64) []byte {
	msg.vendor.Get("v1").ForEach(func(k, v gjson.Result) bool {
		if v1Written(k.Str) || v.Type != gjson.String ||
			k.Str == "ext" && msg.ext.IsObject() || k.Str == "subType" && typ == typeCustom && c.subType > 0 {
			return true
		}
		f = append(f, '&')
		f = appendQueryEscape(f, k.Str)
		f = append(f, '=')
		f = appendQueryEscape(f, v.Str)
		return true
	})
	return f
}

// buildOptionV1 writes the v1 option JSON into c.mcfg: the canonical
// options, then the keys a NetEase v1 client set that the model has no
// place for.
func (c *codec) buildOptionV1(msg *message) {
	o := msg.options
	mc := &c.mcfg
	mc.Reset()
	var w writtenKeys
	if o.Get(sdk.OptSilent).Type == gjson.True {
		w.open(mc).Key("push").Bool(false)
		w.add("push")
	}
	for _, k := range [...][2]string{{sdk.OptRoam, "roam"}, {sdk.OptHistory, "history"}, {sdk.OptSyncSender, "sendersync"}} {
		if v := o.Get(k[0]); isBool(v) {
			w.open(mc).Key(k[1]).Bool(v.Type == gjson.True)
			w.add(k[1])
		}
	}
	if o.Get(sdk.OptOnlineOnly).Type == gjson.True {
		w.open(mc).Key("persistent").Bool(false)
		w.add("persistent")
	}
	var vendor gjson.Result
	if s := msg.vendor.Get("v1.option").Str; s != "" && gjson.Valid(s) {
		vendor = gjson.Parse(s)
	}
	w.merge(mc, vendor)
}

// Tags: "<endpoint> <message> <list><lo>-<hi> [~<degraded>]": the endpoint
// (2c v2 conversation, 2b v2 batch, 1s sendMsg, 1b sendBatchMsg), the
// message index, and a half-open range into its users (u), groups (g) or
// rooms (r).
func (c *codec) beginTag(ep string, i int, t byte, lo, hi int, label string) {
	c.tag = append(c.tag[:0], ep...)
	c.tag = append(c.tag, ' ')
	c.tag = strconv.AppendInt(c.tag, int64(i), 10)
	c.tag = append(c.tag, ' ', t)
	c.tag = strconv.AppendInt(c.tag, int64(lo), 10)
	c.tag = append(c.tag, '-')
	c.tag = strconv.AppendInt(c.tag, int64(hi), 10)
	if label != "" {
		c.tag = append(c.tag, " ~"...)
		c.tag = append(c.tag, label...)
	}
}
