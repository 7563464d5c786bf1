package main

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// sendPath is the only Youdu API this codec decodes.
const sendPath = "/cgi/msg/send"

// msgTypes lists the msgType values of /cgi/msg/send, for error messages.
const msgTypes = "text, image, file, mpnews, link, exlink, sysMsg, sms, mail"

// request holds the top-level members of a /cgi/msg/send body, read in one
// pass.
type request struct {
	toUser, toDept, toAll, toEmail, msgType gjson.Result
	text, image, file, mpnews, link         gjson.Result
	exlink, sysMsg, sms, mail               gjson.Result
}

func (r *request) set(k string, v gjson.Result) {
	switch k {
	case "toUser":
		r.toUser = v
	case "toDept":
		r.toDept = v
	case "toAll":
		r.toAll = v
	case "toEmail":
		r.toEmail = v
	case "msgType":
		r.msgType = v
	case "text":
		r.text = v
	case "image":
		r.image = v
	case "file":
		r.file = v
	case "mpnews":
		r.mpnews = v
	case "mpNews": // go-packagist/youdu spells it so
		if !r.mpnews.Exists() {
			r.mpnews = v
		}
	case "link":
		r.link = v
	case "exlink":
		r.exlink = v
	case "sysMsg":
		r.sysMsg = v
	case "sms":
		r.sms = v
	case "mail":
		r.mail = v
	}
}

// DecodeRequest turns the plaintext JSON of /cgi/msg/send (the host has
// already opened the AES envelope) into a batch of one message.
func (c *codec) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	if !bytes.HasSuffix(req.Path, []byte(sendPath)) {
		return sdk.Error(abi.CodeNotFound, "", "youdu: %s is not a message API: the codec decodes %s", sdk.Quote(str(req.Path)), sendPath)
	}
	body := str(req.Body)
	if !gjson.Valid(body) {
		return sdk.BadField("", "the body is not valid JSON")
	}
	root := gjson.Parse(body)
	if !root.IsObject() {
		return sdk.BadField("", "the body must be a JSON object")
	}
	var r request
	root.ForEach(func(k, v gjson.Result) bool {
		r.set(k.Str, v)
		return true
	})
	if r.msgType.Type != gjson.String || r.msgType.Str == "" {
		return sdk.BadField("msgType", "is required: one of %s", msgTypes)
	}
	mt := r.msgType.Str
	kind := kindOf(mt)
	if kind == "" {
		return sdk.BadField("msgType", "%s is not a Youdu message type: want one of %s", sdk.Quote(mt), msgTypes)
	}

	var to recipients
	if err := to.read(&r, mt == "mail"); err != nil {
		return err
	}

	out.Object().Key(sdk.KeyVersion).Int(sdk.ModelVersion)
	out.Key(sdk.KeyMessages).Array().Object()
	out.Key(sdk.KeyKind).String(kind)
	to.write(out)
	var err error
	switch mt {
	case "text":
		err = decodeText(r.text, out)
	case "image":
		err = decodeMedia("image", r.image, out)
	case "file":
		err = decodeMedia("file", r.file, out)
	case "mpnews":
		err = decodeMpnews(r.mpnews, out)
	case "link":
		err = decodeLink("link", r.link, out)
	case "exlink":
		err = decodeExlink(r.exlink, out)
	case "sysMsg":
		err = decodeSysMsg(r.sysMsg, to.all, to.onlineOnly, out)
	case "sms":
		err = decodeSMS(r.sms, out)
	case "mail":
		err = decodeMail(r.mail, out)
	}
	if err != nil {
		return err
	}
	if to.onlineOnly {
		out.Key(sdk.KeyOptions).Object().Key(sdk.OptOnlineOnly).Bool(true).End()
	}
	out.End().End().End()
	return nil
}

// kindOf maps a Youdu msgType to a canonical kind ("" if unknown).
func kindOf(msgType string) string {
	switch msgType {
	case "text":
		return sdk.KindText
	case "image":
		return sdk.KindImage
	case "file":
		return sdk.KindFile
	case "mpnews", "exlink":
		return sdk.KindNews
	case "link":
		return sdk.KindLink
	case "sysMsg":
		return sdk.KindSystem
	case "sms":
		return sdk.KindSMS
	case "mail":
		return sdk.KindMail
	}
	return ""
}

// recipients are the checked recipient lists of a request, as views into
// the body.
type recipients struct {
	users, depts, emails    string // the raw `|` lists
	nUsers, nDepts, nEmails int
	all, onlineOnly         bool
}

func (t *recipients) read(r *request, mail bool) error {
	var err error
	if t.users, t.nUsers, err = readList(r.toUser, "toUser", maxUsers, false, nil); err != nil {
		return err
	}
	if t.depts, t.nDepts, err = readList(r.toDept, "toDept", maxDepts, true, &t.all); err != nil {
		return err
	}
	switch v := r.toAll; v.Type {
	case gjson.JSON:
		if !v.IsObject() {
			return sdk.BadField("toAll", "must be an object like {\"onlyOnline\": false}")
		}
		t.all = true
		// The JSON examples and every SDK spell it onliyOnline; the
		// table says onlyOnline. Either is read.
		for _, k := range [...]string{"onliyOnline", "onlyOnline"} {
			switch o := v.Get(k); o.Type {
			case gjson.True:
				t.onlineOnly = true
			case gjson.False, gjson.Null:
			default:
				if o.Exists() {
					return sdk.BadField("toAll."+k, "must be true or false")
				}
			}
		}
	case gjson.True:
		t.all = true
	case gjson.False, gjson.Null:
	default:
		if v.Exists() {
			return sdk.BadField("toAll", "must be an object like {\"onlyOnline\": false}")
		}
	}
	// toEmail counts only for mail, and only when toUser is empty.
	if mail && t.nUsers == 0 {
		if t.emails, t.nEmails, err = readList(r.toEmail, "toEmail", maxUsers, false, nil); err != nil {
			return err
		}
	}
	if t.nUsers == 0 && t.nDepts == 0 && t.nEmails == 0 && !t.all {
		if mail {
			return sdk.BadField("toUser", "toUser, toDept and toEmail are all empty: name at least one recipient")
		}
		return sdk.BadField("toUser", "toUser and toDept are both empty: name at least one recipient")
	}
	return nil
}

// readList checks a `|`-joined list and returns it with its number of
// entries. Empty entries (`a||b`, a trailing `|`) are skipped and spaces
// around entries ignored. For departments the id `0` means the whole
// organisation: it sets *all and is not counted.
func readList(v gjson.Result, name string, limit int, dept bool, all *bool) (string, int, error) {
	var list string
	switch v.Type {
	case gjson.Null:
		return "", 0, nil
	case gjson.String:
		list = v.Str
	case gjson.Number:
		if !dept {
			return "", 0, sdk.BadField(name, "must be a string of accounts joined with '|'")
		}
		list = v.Raw // a lone department id written as a number
	default:
		if !v.Exists() {
			return "", 0, nil
		}
		if dept {
			return "", 0, sdk.BadField(name, "must be a string of department ids joined with '|'")
		}
		return "", 0, sdk.BadField(name, "must be a string of accounts joined with '|'")
	}
	n := 0
	var err error
	eachPart(list, func(i int, p string) bool {
		if dept && p == "0" {
			*all = true
			return true
		}
		var why string
		if dept {
			why = checkDept(p)
		} else {
			why = checkID(p)
		}
		if why != "" {
			err = sdk.BadField(name, "entry %d %s %s", i+1, sdk.Quote(p), why)
			return false
		}
		n++
		return true
	})
	if err != nil {
		return "", 0, err
	}
	if n > limit {
		what := "accounts"
		if dept {
			what = "departments"
		}
		return "", 0, sdk.BadField(name, "has %d %s: Youdu takes at most %d", n, what, limit)
	}
	return list, n, nil
}

// eachPart calls fn for every non-empty, space-trimmed entry of a `|` list
// with its position among all entries, until fn returns false.
func eachPart(list string, fn func(i int, p string) bool) {
	for i := 0; list != ""; i++ {
		p := list
		if j := strings.IndexByte(list, '|'); j >= 0 {
			p, list = list[:j], list[j+1:]
		} else {
			list = ""
		}
		p = strings.Trim(p, " ")
		if p == "" {
			continue
		}
		if !fn(i, p) {
			return
		}
	}
}

func (t *recipients) write(out *sdk.JSON) {
	out.Key(sdk.KeyTo).Object()
	writeList(out, sdk.ToUsers, t.users, t.nUsers, false)
	writeList(out, sdk.ToDepartments, t.depts, t.nDepts, true)
	writeList(out, sdk.ToEmails, t.emails, t.nEmails, false)
	if t.all {
		out.Key(sdk.ToAll).Bool(true)
	}
	out.End()
}

func writeList(out *sdk.JSON, key, list string, n int, dept bool) {
	if n == 0 {
		return
	}
	out.Key(key).Array()
	eachPart(list, func(_ int, p string) bool {
		if !dept || p != "0" {
			out.String(p)
		}
		return true
	})
	out.End()
}

// object checks that v, the payload named name, is an object.
func object(v gjson.Result, name, shape string) error {
	if !v.IsObject() {
		return sdk.BadField(name, "is required for this msgType and must be an object like %s", shape)
	}
	return nil
}

// reqString returns the non-empty string member k of obj.
func reqString(obj gjson.Result, where, k string) (string, error) {
	v := obj.Get(k)
	if v.Type != gjson.String || v.Str == "" {
		if v.Exists() && v.Type != gjson.String && v.Type != gjson.Null {
			return "", sdk.BadField(where+"."+k, "must be a string")
		}
		return "", sdk.BadField(where+"."+k, "is required")
	}
	return v.Str, nil
}

// optString returns the string member k of obj, "" when absent or null.
func optString(obj gjson.Result, where, k string) (string, error) {
	v := obj.Get(k)
	switch v.Type {
	case gjson.String:
		return v.Str, nil
	case gjson.Null:
		return "", nil
	}
	if v.Exists() {
		return "", sdk.BadField(where+"."+k, "must be a string")
	}
	return "", nil
}

// optInt returns the integer member k of obj. A decimal string is
// tolerated (some clients quote numbers). ok is false when absent or null.
func optInt(obj gjson.Result, where, k string) (n int64, ok bool, err error) {
	v := obj.Get(k)
	switch v.Type {
	case gjson.Null:
		return 0, false, nil
	case gjson.Number:
		if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
			return n, true, nil
		}
	case gjson.String:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64); err == nil {
			return n, true, nil
		}
	case gjson.True:
		return 1, true, nil // showFront: true
	case gjson.False:
		return 0, true, nil
	default:
		if !v.Exists() {
			return 0, false, nil
		}
	}
	return 0, false, sdk.BadField(where+"."+k, "must be an integer")
}

func decodeText(v gjson.Result, out *sdk.JSON) error {
	if err := object(v, "text", `{"content": "..."}`); err != nil {
		return err
	}
	content, err := reqString(v, "text", "content")
	if err != nil {
		return err
	}
	out.Key(sdk.KeyText).String(content)
	return nil
}

func decodeMedia(name string, v gjson.Result, out *sdk.JSON) error {
	if err := object(v, name, `{"media_id": "..."}`); err != nil {
		return err
	}
	id, err := reqString(v, name, "media_id")
	if err != nil {
		return err
	}
	writeMediaID(out, sdk.KeyMedia, id)
	return nil
}

// writeMediaID writes key: a canonical media naming a Youdu media id.
func writeMediaID(out *sdk.JSON, key, id string) {
	out.Key(key).Object().Key(sdk.MediaID).String(id).Key(sdk.MediaVendor).String(sdk.DialectYoudu).End()
}

// articles checks a mpnews or exlink array: 1 to 5 objects.
func articles(v gjson.Result, name string) error {
	if !v.IsArray() {
		return sdk.BadField(name, "is required for this msgType and must be an array of articles")
	}
	n := 0
	var err error
	v.ForEach(func(_, a gjson.Result) bool {
		if !a.IsObject() {
			err = sdk.BadField(name+"["+strconv.Itoa(n)+"]", "must be an object")
			return false
		}
		n++
		return true
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return sdk.BadField(name, "is empty: give 1 to %d articles", maxArticles)
	}
	if n > maxArticles {
		return sdk.BadField(name, "has %d articles: Youdu takes at most %d", n, maxArticles)
	}
	return nil
}

func decodeMpnews(v gjson.Result, out *sdk.JSON) error {
	if err := articles(v, "mpnews"); err != nil {
		return err
	}
	out.Key(sdk.KeyArticles).Array()
	i := 0
	var err error
	v.ForEach(func(_, a gjson.Result) bool {
		where := "mpnews[" + strconv.Itoa(i) + "]"
		i++
		var title, id, content, digest string
		if title, err = reqString(a, where, "title"); err != nil {
			return false
		}
		if id, err = reqString(a, where, "media_id"); err != nil {
			return false
		}
		if content, err = reqString(a, where, "content"); err != nil {
			return false
		}
		if digest, err = optString(a, where, "digest"); err != nil {
			return false
		}
		k := "showFront"
		if !a.Get(k).Exists() {
			k = "show_front" // go-packagist/youdu
		}
		var show int64
		if show, _, err = optInt(a, where, k); err != nil {
			return false
		}
		out.Object()
		out.Key(sdk.ArticleTitle).String(title)
		out.Key(sdk.ArticleContent).String(content)
		if digest != "" {
			out.Key(sdk.ArticleDigest).String(digest)
		}
		writeMediaID(out, sdk.ArticleCover, id)
		if show != 0 {
			out.Key(sdk.ArticleShowCover).Bool(true)
		}
		out.End()
		return true
	})
	if err != nil {
		return err
	}
	out.End()
	return nil
}

func decodeExlink(v gjson.Result, out *sdk.JSON) error {
	if err := articles(v, "exlink"); err != nil {
		return err
	}
	out.Key(sdk.KeyArticles).Array()
	i := 0
	var err error
	v.ForEach(func(_, a gjson.Result) bool {
		where := "exlink[" + strconv.Itoa(i) + "]"
		i++
		var title, url, id, digest string
		if title, err = reqString(a, where, "title"); err != nil {
			return false
		}
		if url, err = reqString(a, where, "url"); err != nil {
			return false
		}
		if id, err = reqString(a, where, "media_id"); err != nil {
			return false
		}
		if digest, err = optString(a, where, "digest"); err != nil {
			return false
		}
		out.Object()
		out.Key(sdk.ArticleTitle).String(title)
		out.Key(sdk.ArticleURL).String(url)
		if digest != "" {
			out.Key(sdk.ArticleDigest).String(digest)
		}
		writeMediaID(out, sdk.ArticleCover, id)
		out.End()
		return true
	})
	if err != nil {
		return err
	}
	out.End()
	return nil
}

// decodeLink reads a hidden link (the link msgType, or a sysMsg item)
// and writes it as the canonical "link" member.
func decodeLink(where string, v gjson.Result, out *sdk.JSON) error {
	if err := object(v, where, `{"title": "...", "url": "...", "action": 0}`); err != nil {
		return err
	}
	title, err := reqString(v, where, "title")
	if err != nil {
		return err
	}
	url, err := reqString(v, where, "url")
	if err != nil {
		return err
	}
	action, _, err := optInt(v, where, "action")
	if err != nil {
		return err
	}
	if action != 0 && action != 1 {
		return sdk.BadField(where+".action", "must be 0 (open the url) or 1 (append the Youdu user name and token)")
	}
	out.Key(sdk.KeyLink).Object().Key(sdk.LinkTitle).String(title).Key(sdk.LinkURL).String(url)
	if action != 0 {
		out.Key(sdk.LinkAction).Int(action)
	}
	out.End()
	return nil
}

func decodeSysMsg(v gjson.Result, all, onlineOnly bool, out *sdk.JSON) error {
	if err := object(v, "sysMsg", `{"title": "...", "msg": [{"text": {"content": "..."}}]}`); err != nil {
		return err
	}
	title, err := reqString(v, "sysMsg", "title")
	if err != nil {
		return err
	}
	pop, hasPop, err := optInt(v, "sysMsg", "popDuration")
	if err != nil {
		return err
	}
	items := v.Get("msg")
	if !items.IsArray() {
		return sdk.BadField("sysMsg.msg", "is required and must be an array of {\"text\": ...} or {\"link\": ...} items")
	}
	out.Key(sdk.KeySystem).Object()
	out.Key(sdk.SystemTitle).String(title)
	if hasPop {
		out.Key(sdk.SystemPopSeconds).Int(pop)
	}
	out.Key(sdk.SystemItems).Array()
	n := 0
	items.ForEach(func(_, it gjson.Result) bool {
		where := "sysMsg.msg[" + strconv.Itoa(n) + "]"
		n++
		text, link := it.Get("text"), it.Get("link")
		switch {
		case !it.IsObject():
			err = sdk.BadField(where, "must be an object")
		case text.Exists():
			var content string
			if err = object(text, where+".text", `{"content": "..."}`); err != nil {
				return false
			}
			if content, err = reqString(text, where+".text", "content"); err != nil {
				return false
			}
			out.Object().Key(sdk.SystemItemText).String(content).End()
		case link.Exists():
			out.Object()
			err = decodeLink(where+".link", link, out)
			out.End()
		default:
			err = sdk.BadField(where, "must hold a text or a link")
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return sdk.BadField("sysMsg.msg", "is empty: give at least one text or link item")
	}
	out.End()
	if all && onlineOnly {
		out.Key(sdk.SystemOnlineOnly).Bool(true)
	}
	out.End()
	return nil
}

func decodeSMS(v gjson.Result, out *sdk.JSON) error {
	if err := object(v, "sms", `{"from": "<mobile>", "content": "..."}`); err != nil {
		return err
	}
	from, err := reqString(v, "sms", "from")
	if err != nil {
		return err
	}
	content, err := reqString(v, "sms", "content")
	if err != nil {
		return err
	}
	out.Key(sdk.KeyText).String(content)
	out.Key(sdk.KeySMS).Object().Key(sdk.SMSFrom).String(from).End()
	return nil
}

func decodeMail(v gjson.Result, out *sdk.JSON) error {
	if err := object(v, "mail", `{"action": "new", "subject": "..."}`); err != nil {
		return err
	}
	var s [5]string
	for i, k := range [...]string{"action", "subject", "fromUser", "fromEmail", "link"} {
		var err error
		if s[i], err = optString(v, "mail", k); err != nil {
			return err
		}
	}
	if s[0] != "" && s[0] != sdk.MailActionNew && s[0] != sdk.MailActionUnread {
		return sdk.BadField("mail.action", "must be \"new\" or \"unread\", not %s", sdk.Quote(s[0]))
	}
	t, hasTime, err := optInt(v, "mail", "time")
	if err != nil {
		return err
	}
	unread, hasUnread, err := optInt(v, "mail", "unreadCount")
	if err != nil {
		return err
	}
	out.Key(sdk.KeyMail).Object()
	for i, k := range [...]string{sdk.MailAction, sdk.MailSubject, sdk.MailFromUser, sdk.MailFromEmail, sdk.MailLink} {
		if s[i] != "" {
			out.Key(k).String(s[i])
		}
	}
	if hasTime {
		out.Key(sdk.MailTime).Int(t)
	}
	if hasUnread {
		out.Key(sdk.MailUnreadCount).Int(unread)
	}
	out.End()
	return nil
}
