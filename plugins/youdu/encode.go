package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// codec is the Youdu codec. Its buffers are reused from call to call: one
// guest instance runs one hook at a time.
type codec struct {
	payload sdk.JSON       // the msgType member of the message being encoded
	scratch []byte         // degraded text, joined recipient lists
	tag     []byte         // the tag of the request being encoded
	users   []string       // recipient lists of the current message
	depts   []string       //
	emails  []string       //
	msgs    []gjson.Result // the batch's messages, by index
	invalid []string       // accounts an answer listed as invalid
	skipped error          // why the last EncodeRequest skipped recipients
}

// message holds the members of a canonical message, read in one pass.
type message struct {
	kind, text                                  string
	to, media, location, articles, link, system gjson.Result
	sms, mail, options, custom, template, ext   gjson.Result
	raw                                         gjson.Result
}

func readMessage(m gjson.Result) message {
	msg := message{raw: m}
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case sdk.KeyKind:
			msg.kind = v.Str
		case sdk.KeyText:
			msg.text = v.Str
		case sdk.KeyTo:
			msg.to = v
		case sdk.KeyMedia:
			msg.media = v
		case sdk.KeyLocation:
			msg.location = v
		case sdk.KeyArticles:
			msg.articles = v
		case sdk.KeyLink:
			msg.link = v
		case sdk.KeySystem:
			msg.system = v
		case sdk.KeySMS:
			msg.sms = v
		case sdk.KeyMail:
			msg.mail = v
		case sdk.KeyOptions:
			msg.options = v
		case sdk.KeyCustom:
			msg.custom = v
		case sdk.KeyTemplate:
			msg.template = v
		case sdk.KeyExtension:
			msg.ext = v
		}
		return true
	})
	return msg
}

// EncodeRequest turns each canonical message into one or more
// /cgi/msg/send requests: recipients are split at Youdu's limits (1000
// accounts, 100 departments per request). The body is plaintext; the host
// encrypts it and adds the access token.
func (c *codec) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	policy, err := sdk.RoutePolicy(opts)
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
		err = c.encodeMessage(i, m, policy, out)
		i++
		return err == nil
	})
	if err == nil && out.Len() == 0 && c.skipped != nil {
		// Every recipient was one Youdu cannot address: nothing to send.
		return c.skipped
	}
	return err
}

func (c *codec) encodeMessage(i int, m gjson.Result, policy sdk.Policy, out *sdk.Requests) error {
	if !m.IsObject() {
		return sdk.Error(abi.CodeInternal, sdk.MessageField(i, ""), "youdu: a canonical message must be an object")
	}
	msg := readMessage(m)
	all := msg.to.Get(sdk.ToAll).Type == gjson.True
	if err := c.readRecipients(i, &msg, policy); err != nil {
		return err
	}
	if len(c.users)+len(c.depts)+len(c.emails) == 0 && !all {
		return nil // only recipients Youdu cannot address: DecodeResponse reports them
	}
	msgType, label, err := c.buildPayload(i, &msg, policy)
	if err != nil {
		return err
	}
	system := msgType == "sysMsg"
	onlineOnly := msg.system.Get(sdk.SystemOnlineOnly).Type == gjson.True ||
		msg.options.Get(sdk.OptOnlineOnly).Type == gjson.True

	// The whole organisation is the department 0, except for system
	// messages, which have toAll. It takes the first department slot of
	// the first request.
	slot := 0
	if all && !system {
		slot = 1
	}
	nu, nd := len(c.users), len(c.depts)
	chunks := max((nu+maxUsers-1)/maxUsers, (nd+slot+maxDepts-1)/maxDepts)
	if chunks == 0 && (all || len(c.emails) == 0) {
		chunks = 1
	}
	for k := 0; k < chunks; k++ {
		ulo, uhi := min(k*maxUsers, nu), min((k+1)*maxUsers, nu)
		dlo, dhi := max(k*maxDepts-slot, 0), min((k+1)*maxDepts-slot, nd)
		dlo = min(dlo, nd)
		first := k == 0
		c.beginTag(i)
		c.tagSpan('u', ulo, uhi)
		c.tagSpan('d', dlo, dhi)
		if first && all {
			c.tag = append(c.tag, " a"...)
		}
		c.endTag(label)

		body := out.Begin("POST", sendPath, "", "application/json")
		body.Object()
		if uhi > ulo {
			c.scratch = join(c.scratch[:0], c.users[ulo:uhi])
			body.Key("toUser").StringBytes(c.scratch)
		}
		if dhi > dlo || first && slot == 1 {
			c.scratch = c.scratch[:0]
			if first && slot == 1 {
				c.scratch = append(c.scratch, '0')
			}
			for _, d := range c.depts[dlo:dhi] {
				if len(c.scratch) > 0 {
					c.scratch = append(c.scratch, '|')
				}
				c.scratch = append(c.scratch, d...)
			}
			body.Key("toDept").StringBytes(c.scratch)
		}
		if first && all && system {
			body.Key("toAll").Object().Key("onliyOnline").Bool(onlineOnly).End()
		}
		body.Key("msgType").String(msgType)
		body.Key(msgType).Raw(c.payload.Bytes())
		body.End()
		out.End(c.tag)
	}
	// E-mail recipients go in requests of their own: Youdu ignores
	// toEmail when toUser is set.
	for lo := 0; lo < len(c.emails); lo += maxUsers {
		hi := min(lo+maxUsers, len(c.emails))
		c.beginTag(i)
		c.tagSpan('e', lo, hi)
		c.endTag(label)
		body := out.Begin("POST", sendPath, "", "application/json")
		c.scratch = join(c.scratch[:0], c.emails[lo:hi])
		body.Object().Key("toEmail").StringBytes(c.scratch)
		body.Key("msgType").String(msgType)
		body.Key(msgType).Raw(c.payload.Bytes())
		body.End()
		out.End(c.tag)
	}
	return nil
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

func join(dst []byte, list []string) []byte {
	for j, s := range list {
		if j > 0 {
			dst = append(dst, '|')
		}
		dst = append(dst, s...)
	}
	return dst
}

// readRecipients fills c.users, c.depts and c.emails from msg.to. Lists
// Youdu cannot address (groups, rooms; e-mail addresses of anything but
// mail) are unsupported; with policy degrade they are skipped instead, and
// DecodeResponse reports each of their recipients as not sent.
func (c *codec) readRecipients(i int, msg *message, policy sdk.Policy) error {
	c.users, c.depts, c.emails = c.users[:0], c.depts[:0], c.emails[:0]
	to := msg.to
	if !to.IsObject() {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyTo), "a message needs recipients")
	}
	var err error
	skipped := false
	skip := func(e error) {
		if policy != sdk.PolicyDegrade {
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
		case sdk.ToDepartments:
			list = &c.depts
		case sdk.ToEmails:
			if msg.kind != sdk.KindMail {
				if hasEntry(v) {
					skip(sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, "to.emails"), "youdu: only mail messages go to e-mail addresses, not %s", msg.kind))
				}
				return err == nil
			}
			list = &c.emails
		case sdk.ToGroups, sdk.ToRooms:
			if hasEntry(v) {
				skip(sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, "to."+k.Str), "%s", unaddressable(k.Str)))
			}
			return err == nil
		default:
			return true
		}
		*list, err = sdk.AppendRecipients(*list, i, k.Str, v, checkID)
		return err == nil
	})
	if err != nil {
		return err
	}
	if len(c.users)+len(c.depts)+len(c.emails) == 0 && to.Get(sdk.ToAll).Type != gjson.True && !skipped {
		return sdk.BadField(sdk.MessageField(i, sdk.KeyTo), "a message needs at least one user, department, e-mail address or all")
	}
	return nil
}

// unaddressable is the reason a recipient list cannot be sent to.
func unaddressable(list string) string {
	return "youdu: app messages go to users and departments; they cannot be sent to " + list
}

// buildPayload writes the msgType member of msg into c.payload and returns
// the msgType and, when the message was degraded, what it became.
func (c *codec) buildPayload(i int, msg *message, policy sdk.Policy) (msgType, label string, err error) {
	p := &c.payload
	p.Reset()
	switch msg.kind {
	case sdk.KindText:
		if msg.text == "" {
			return "", "", sdk.BadField(sdk.MessageField(i, sdk.KeyText), "a text message needs a text")
		}
		p.Object().Key("content").String(msg.text).End()
		return "text", "", nil
	case sdk.KindImage, sdk.KindFile:
		if id := youduMediaID(msg.media); id != "" {
			p.Object().Key("media_id").String(id).End()
			return msg.kind, "", nil
		}
		return c.degradeToLink(i, msg, policy, "it has no Youdu media_id, and a codec cannot upload a URL")
	case sdk.KindAudio, sdk.KindVideo:
		return c.degradeToLink(i, msg, policy, "Youdu app messages have no "+msg.kind)
	case sdk.KindNews:
		if t := c.newsPayload(msg.articles); t != "" {
			return t, "", nil
		}
		if policy != sdk.PolicyDegrade {
			return "", "", unsupported(i, msg.kind, "its articles need Youdu cover media_ids (and a url or a content each, at most 5)", "a link or a text")
		}
		if a := msg.articles.Array(); len(a) == 1 && a[0].Get(sdk.ArticleURL).Str != "" {
			writeLink(p, a[0].Get(sdk.ArticleTitle).Str, a[0].Get(sdk.ArticleURL).Str, 0)
			return "link", "news→link", nil
		}
		return c.degradeToText(i, msg, policy, "")
	case sdk.KindLink:
		title, url := msg.link.Get(sdk.LinkTitle).Str, msg.link.Get(sdk.LinkURL).Str
		if title == "" || url == "" {
			return "", "", sdk.BadField(sdk.MessageField(i, sdk.KeyLink), "a link needs a title and a url")
		}
		writeLink(p, title, url, msg.link.Get(sdk.LinkAction).Int())
		return "link", "", nil
	case sdk.KindSystem:
		return "sysMsg", "", c.sysMsgPayload(i, msg)
	case sdk.KindSMS:
		from := msg.sms.Get(sdk.SMSFrom).Str
		if from == "" || msg.text == "" {
			return "", "", sdk.BadField(sdk.MessageField(i, sdk.KeySMS), "an sms needs sms.from and a text")
		}
		p.Object().Key("from").String(from).Key("content").String(msg.text).End()
		return "sms", "", nil
	case sdk.KindMail:
		mailPayload(p, msg.mail)
		return "mail", "", nil
	case sdk.KindCommand:
		return "", "", sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyKind),
			"youdu cannot carry a command message: it is an invisible signal, so it is rejected even when the route degrades")
	case sdk.KindLocation, sdk.KindCustom, sdk.KindTip, sdk.KindTemplate, sdk.KindExtension:
		return c.degradeToText(i, msg, policy, "Youdu app messages have no "+msg.kind)
	}
	return "", "", sdk.BadField(sdk.MessageField(i, sdk.KeyKind), "%s is not a canonical message kind", sdk.Quote(msg.kind))
}

func unsupported(i int, kind, why, fallback string) error {
	return sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyKind),
		"youdu cannot carry this %s message exactly: %s (route policy reject; policy degrade sends %s)", kind, why, fallback)
}

// youduMediaID returns the media_id of a media Youdu issued, or "".
func youduMediaID(media gjson.Result) string {
	if media.Get(sdk.MediaVendor).Str != sdk.DialectYoudu {
		return ""
	}
	return media.Get(sdk.MediaID).Str
}

// degradeToLink sends a media message as a hidden link to its URL.
func (c *codec) degradeToLink(i int, msg *message, policy sdk.Policy, why string) (string, string, error) {
	url := msg.media.Get(sdk.MediaURL).Str
	if policy != sdk.PolicyDegrade {
		return "", "", unsupported(i, msg.kind, why, "a link to its url")
	}
	if url == "" {
		return "", "", sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyMedia),
			"youdu cannot carry this %s message: %s, and it has no url to link to", msg.kind, why)
	}
	title := msg.text
	if title == "" {
		title = msg.media.Get(sdk.MediaName).Str
	}
	if title == "" {
		title = defaultTitle(msg.kind)
	}
	writeLink(&c.payload, title, url, 0)
	return "link", msg.kind + "→link", nil
}

func defaultTitle(kind string) string {
	switch kind {
	case sdk.KindImage:
		return "Image"
	case sdk.KindAudio:
		return "Voice message"
	case sdk.KindVideo:
		return "Video"
	}
	return "File"
}

// degradeToText sends msg as a text message (sdk.AppendFallbackText).
func (c *codec) degradeToText(i int, msg *message, policy sdk.Policy, why string) (string, string, error) {
	if policy != sdk.PolicyDegrade {
		if why == "" {
			why = "no Youdu message type matches it"
		}
		return "", "", unsupported(i, msg.kind, why, "a text")
	}
	var label string
	var ok bool
	c.scratch, label, ok = sdk.AppendFallbackText(c.scratch[:0], msg.raw)
	if !ok {
		return "", "", sdk.Error(abi.CodeUnsupported, sdk.MessageField(i, sdk.KeyKind),
			"youdu cannot carry this %s message, and it has no text to degrade to", msg.kind)
	}
	c.payload.Object().Key("content").StringBytes(c.scratch).End()
	return "text", label, nil
}

// maxTitle is Youdu's limit for link titles, in characters.
const maxTitle = 64

func writeLink(p *sdk.JSON, title, url string, action int64) {
	if utf8.RuneCountInString(title) > maxTitle {
		n := 0
		for j := range title {
			if n == maxTitle {
				title = title[:j]
				break
			}
			n++
		}
	}
	p.Object().Key("title").String(title).Key("url").String(url).Key("action").Int(action).End()
}

// newsPayload writes articles as exlink (every article has a url) or
// mpnews (every article has a content) when every cover is a Youdu media
// and there are at most 5, and returns the msgType; "" otherwise.
func (c *codec) newsPayload(articles gjson.Result) string {
	n, urls, contents := 0, 0, 0
	ok := articles.IsArray()
	articles.ForEach(func(_, a gjson.Result) bool {
		n++
		if youduMediaID(a.Get(sdk.ArticleCover)) == "" || a.Get(sdk.ArticleTitle).Str == "" {
			ok = false
			return false
		}
		if a.Get(sdk.ArticleURL).Str != "" {
			urls++
		}
		if a.Get(sdk.ArticleContent).Str != "" {
			contents++
		}
		return true
	})
	if !ok || n == 0 || n > maxArticles || urls < n && contents < n {
		return ""
	}
	exlink := urls == n
	p := &c.payload
	p.Array()
	articles.ForEach(func(_, a gjson.Result) bool {
		p.Object().Key("title").String(a.Get(sdk.ArticleTitle).Str)
		if exlink {
			p.Key("url").String(a.Get(sdk.ArticleURL).Str)
		} else {
			p.Key("content").String(a.Get(sdk.ArticleContent).Str)
		}
		if d := a.Get(sdk.ArticleDigest).Str; d != "" {
			p.Key("digest").String(d)
		}
		p.Key("media_id").String(a.Get(sdk.ArticleCover).Get(sdk.MediaID).Str)
		if !exlink {
			show := int64(0)
			if a.Get(sdk.ArticleShowCover).Type == gjson.True {
				show = 1
			}
			p.Key("showFront").Int(show)
		}
		p.End()
		return true
	})
	p.End()
	if exlink {
		return "exlink"
	}
	return "mpnews"
}

func (c *codec) sysMsgPayload(i int, msg *message) error {
	s := msg.system
	title := s.Get(sdk.SystemTitle).Str
	if title == "" {
		return sdk.BadField(sdk.MessageField(i, "system.title"), "a Youdu system message needs a title")
	}
	p := &c.payload
	p.Object().Key("title").String(title)
	if pop := s.Get(sdk.SystemPopSeconds); pop.Type == gjson.Number {
		p.Key("popDuration").Int(pop.Int())
	}
	p.Key("msg").Array()
	n := 0
	var err error
	s.Get(sdk.SystemItems).ForEach(func(_, it gjson.Result) bool {
		if t := it.Get(sdk.SystemItemText).Str; t != "" {
			p.Object().Key("text").Object().Key("content").String(t).End().End()
			n++
			return true
		}
		l := it.Get(sdk.SystemItemLink)
		title, url := l.Get(sdk.LinkTitle).Str, l.Get(sdk.LinkURL).Str
		if title == "" || url == "" {
			err = sdk.BadField(sdk.MessageField(i, "system.items["+strconv.Itoa(n)+"]"), "an item needs a text or a link with a title and a url")
			return false
		}
		p.Object().Key("link")
		writeLink(p, title, url, l.Get(sdk.LinkAction).Int())
		p.End()
		n++
		return true
	})
	if err != nil {
		return err
	}
	if n == 0 {
		if msg.text == "" {
			return sdk.BadField(sdk.MessageField(i, "system.items"), "a Youdu system message needs at least one item")
		}
		p.Object().Key("text").Object().Key("content").String(msg.text).End().End()
	}
	p.End().End()
	return nil
}

func mailPayload(p *sdk.JSON, m gjson.Result) {
	p.Object()
	for _, k := range [...][2]string{
		{sdk.MailAction, "action"}, {sdk.MailSubject, "subject"}, {sdk.MailFromUser, "fromUser"},
		{sdk.MailFromEmail, "fromEmail"}, {sdk.MailLink, "link"},
	} {
		if v := m.Get(k[0]).Str; v != "" {
			p.Key(k[1]).String(v)
		}
	}
	if t := m.Get(sdk.MailTime); t.Type == gjson.Number && t.Int() != 0 {
		p.Key("time").Int(t.Int())
	}
	if u := m.Get(sdk.MailUnreadCount); u.Type == gjson.Number {
		p.Key("unreadCount").Int(u.Int())
	}
	p.End()
}

// Tags: "<message> u<lo>-<hi> d<lo>-<hi> e<lo>-<hi> a ~<degraded>", the
// spans being half-open index ranges into the message's users,
// departments and emails, "a" marking the whole organisation. Empty spans
// are left out.

func (c *codec) beginTag(i int) {
	c.tag = strconv.AppendInt(c.tag[:0], int64(i), 10)
}

func (c *codec) tagSpan(t byte, lo, hi int) {
	if hi <= lo {
		return
	}
	c.tag = append(c.tag, ' ', t)
	c.tag = strconv.AppendInt(c.tag, int64(lo), 10)
	c.tag = append(c.tag, '-')
	c.tag = strconv.AppendInt(c.tag, int64(hi), 10)
}

func (c *codec) endTag(label string) {
	if label != "" {
		c.tag = append(c.tag, " ~"...)
		c.tag = append(c.tag, label...)
	}
}
