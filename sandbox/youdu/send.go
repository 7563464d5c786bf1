package youdu

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Limits of /cgi/msg/send (seed document 002).
const (
	MaxToUser    = 1000
	MaxToDept    = 100
	MaxToEmail   = 1000
	MaxArticles  = 5   // mpnews and exlink entries
	MaxTitle     = 64  // titles, characters
	MaxContent   = 600 // text, sms and mpnews content; longer is truncated
	MaxDigest    = 120 // digests; longer is truncated
	DeptEveryone = "0" // toDept value meaning the whole organisation
)

// msgTypes are the msgType values /cgi/msg/send accepts.
var msgTypes = map[string]bool{
	"text": true, "image": true, "file": true, "mpnews": true, "link": true,
	"exlink": true, "sysMsg": true, "sms": true, "mail": true,
}

// check validates one payload and collects the truncations Youdu applies to
// over-long texts, so the inbox shows what recipients would see.
type check struct {
	edits []edit
}

type edit struct {
	path, value string
}

func badFormat(format string, args ...any) *apiError {
	return &apiError{CodeBadJSON, "invalid message format: " + fmt.Sprintf(format, args...)}
}

// field checks obj.key: a string, non-empty when required, and either
// truncated to max characters (trunc) or refused beyond it. path is the
// sjson path of obj in the payload, for truncations. max 0 means no limit.
func (c *check) field(obj gjson.Result, path, key string, required bool, max int, trunc bool) *apiError {
	v := obj.Get(key)
	name := path + "." + key
	if !v.Exists() || v.Type == gjson.Null {
		if required {
			return badFormat("%s required", name)
		}
		return nil
	}
	if v.Type != gjson.String {
		return badFormat("%s must be a string", name)
	}
	if required && v.Str == "" {
		return badFormat("%s must not be empty", name)
	}
	if max > 0 && utf8.RuneCountInString(v.Str) > max {
		if !trunc {
			return errf(CodeBadRequest, "invalid request: %s longer than %d characters", name, max)
		}
		c.edits = append(c.edits, edit{name, truncate(v.Str, max)})
	}
	return nil
}

// intField checks that obj.key, when present, is an integer, and one of
// allowed when allowed is not empty.
func intField(obj gjson.Result, path, key string, allowed ...int64) *apiError {
	v := obj.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return nil
	}
	name := path + "." + key
	if v.Type != gjson.Number || v.Num != float64(int64(v.Num)) {
		return badFormat("%s must be an integer", name)
	}
	if len(allowed) == 0 {
		return nil
	}
	for _, a := range allowed {
		if int64(v.Num) == a {
			return nil
		}
	}
	return badFormat("%s must be one of %v", name, allowed)
}

func truncate(s string, n int) string {
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// object fetches a required object member.
func object(root gjson.Result, key string) (gjson.Result, *apiError) {
	v := root.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return v, badFormat("%s required", key)
	}
	if !v.IsObject() {
		return v, badFormat("%s must be an object", key)
	}
	return v, nil
}

// articles fetches the array of an mpnews or exlink message: 1 to 5
// objects.
func articles(root gjson.Result, key string) ([]gjson.Result, *apiError) {
	v := root.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return nil, badFormat("%s required", key)
	}
	if !v.IsArray() {
		return nil, badFormat("%s must be an array", key)
	}
	items := v.Array()
	if len(items) == 0 || len(items) > MaxArticles {
		return nil, errf(CodeBadRequest, "invalid request: %s has %d entries, want 1 to %d", key, len(items), MaxArticles)
	}
	for i, it := range items {
		if !it.IsObject() {
			return nil, badFormat("%s.%d must be an object", key, i)
		}
	}
	return items, nil
}

// body validates the member named after msgType.
func (c *check) body(root gjson.Result, msgType, appID string) *apiError {
	switch msgType {
	case "text":
		obj, err := object(root, "text")
		if err != nil {
			return err
		}
		return c.field(obj, "text", "content", true, MaxContent, true)
	case "image", "file":
		obj, err := object(root, msgType)
		if err != nil {
			return err
		}
		return c.field(obj, msgType, "media_id", true, 0, false)
	case "mpnews":
		// go-packagist/youdu sends the array as mpNews with show_front.
		key := "mpnews"
		if !root.Get(key).Exists() && root.Get("mpNews").Exists() {
			key = "mpNews"
		}
		items, err := articles(root, key)
		if err != nil {
			return err
		}
		for i, it := range items {
			p := key + "." + strconv.Itoa(i)
			for _, f := range []*apiError{
				c.field(it, p, "title", true, MaxTitle, true),
				c.field(it, p, "media_id", true, 0, false),
				c.field(it, p, "content", true, MaxContent, true),
				c.field(it, p, "digest", false, MaxDigest, true),
				intField(it, p, "showFront", 0, 1),
				intField(it, p, "show_front", 0, 1),
			} {
				if f != nil {
					return f
				}
			}
		}
		return nil
	case "link":
		obj, err := object(root, "link")
		if err != nil {
			return err
		}
		return c.link(obj, "link")
	case "exlink":
		items, err := articles(root, "exlink")
		if err != nil {
			return err
		}
		for i, it := range items {
			p := "exlink." + strconv.Itoa(i)
			for _, f := range []*apiError{
				c.field(it, p, "title", true, MaxTitle, false),
				c.field(it, p, "url", true, 0, false),
				c.field(it, p, "media_id", true, 0, false),
				c.field(it, p, "digest", false, MaxDigest, true),
			} {
				if f != nil {
					return f
				}
			}
		}
		return nil
	case "sysMsg":
		if appID != AppSysMsg {
			return errf(CodeBadAppID, "invalid appId: sysMsg needs the %s app", AppSysMsg)
		}
		return c.sysMsg(root)
	case "sms":
		obj, err := object(root, "sms")
		if err != nil {
			return err
		}
		if err := c.field(obj, "sms", "from", true, 0, false); err != nil {
			return err
		}
		return c.field(obj, "sms", "content", true, MaxContent, true)
	case "mail":
		if appID != AppSysEmail {
			return errf(CodeBadAppID, "invalid appId: mail needs the %s app", AppSysEmail)
		}
		obj, err := object(root, "mail")
		if err != nil {
			return err
		}
		if a := obj.Get("action"); a.Exists() && a.Str != "new" && a.Str != "unread" {
			return badFormat(`mail.action must be "new" or "unread"`)
		}
		for _, k := range []string{"subject", "fromUser", "fromEmail", "link"} {
			if err := c.field(obj, "mail", k, false, 0, false); err != nil {
				return err
			}
		}
		if err := intField(obj, "mail", "time"); err != nil {
			return err
		}
		return intField(obj, "mail", "unreadCount")
	}
	return badFormat("invalid msgType %q", msgType)
}

// link checks a hidden link: title (at most 64), url, action 0 or 1.
func (c *check) link(obj gjson.Result, path string) *apiError {
	if err := c.field(obj, path, "title", true, MaxTitle, false); err != nil {
		return err
	}
	if err := c.field(obj, path, "url", true, 0, false); err != nil {
		return err
	}
	return intField(obj, path, "action", 0, 1)
}

// sysMsg checks the system message: title, popDuration, and a non-empty
// msg list of text and link parts.
func (c *check) sysMsg(root gjson.Result) *apiError {
	obj, err := object(root, "sysMsg")
	if err != nil {
		return err
	}
	if err := c.field(obj, "sysMsg", "title", true, MaxTitle, false); err != nil {
		return err
	}
	if err := intField(obj, "sysMsg", "popDuration"); err != nil {
		return err
	}
	parts := obj.Get("msg")
	if !parts.IsArray() || len(parts.Array()) == 0 {
		return badFormat("sysMsg.msg must be a non-empty array")
	}
	for i, p := range parts.Array() {
		path := "sysMsg.msg." + strconv.Itoa(i)
		switch {
		case p.Get("text").IsObject():
			if err := c.field(p.Get("text"), path+".text", "content", true, MaxContent, true); err != nil {
				return err
			}
		case p.Get("link").IsObject():
			if err := c.link(p.Get("link"), path+".link"); err != nil {
				return err
			}
		default:
			return badFormat("%s must hold a text or a link", path)
		}
	}
	return nil
}

// recipients are the parsed receivers of one message.
type recipients struct {
	users, depts, emails []string
	toAll                bool
}

// splitList splits a '|'-joined list, dropping empty entries (a trailing
// '|' from a naive join is tolerated).
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "|") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// listField reads a '|'-joined string member.
func listField(root gjson.Result, key string) ([]string, bool, *apiError) {
	v := root.Get(key)
	if !v.Exists() || v.Type == gjson.Null {
		return nil, false, nil
	}
	if v.Type != gjson.String {
		return nil, true, badFormat("%s must be a string", key)
	}
	return splitList(v.Str), v.Str != "", nil
}

// parseRecipients reads toUser, toDept and, for the types that have them,
// toAll (sysMsg) and toEmail (mail).
func parseRecipients(root gjson.Result, msgType string) (recipients, *apiError) {
	var r recipients
	users, userSet, err := listField(root, "toUser")
	if err != nil {
		return r, err
	}
	if len(users) > MaxToUser {
		return r, errf(CodeToUserTooLong, "toUser over limit: %d accounts, at most %d", len(users), MaxToUser)
	}
	if userSet && len(users) == 0 {
		return r, errf(CodeBadToUser, "invalid toUser")
	}
	depts, _, err := listField(root, "toDept")
	if err != nil {
		return r, err
	}
	if len(depts) > MaxToDept {
		return r, errf(CodeBadRequest, "invalid request: toDept has %d departments, at most %d", len(depts), MaxToDept)
	}
	for _, d := range depts {
		if n, err := strconv.ParseUint(d, 10, 63); err != nil || strconv.FormatUint(n, 10) != d {
			return r, errf(CodeBadDeptIDFormat, "invalid dept id %q", d)
		}
	}
	r.users, r.depts = users, depts

	switch msgType {
	case "sysMsg":
		if ta := root.Get("toAll"); ta.Exists() && ta.Type != gjson.Null {
			if !ta.IsObject() {
				return r, badFormat("toAll must be an object")
			}
			// The documented JSON misspells it onliyOnline; the table says
			// onlyOnline. Either is accepted.
			oo := ta.Get("onliyOnline")
			if !oo.Exists() {
				oo = ta.Get("onlyOnline")
			}
			if !oo.IsBool() {
				return r, badFormat("toAll.onliyOnline must be a boolean")
			}
			r.toAll = true
		}
	case "mail":
		emails, _, err := listField(root, "toEmail")
		if err != nil {
			return r, err
		}
		if len(emails) > MaxToEmail {
			return r, errf(CodeBadRequest, "invalid request: toEmail has %d addresses, at most %d", len(emails), MaxToEmail)
		}
		if len(r.users) == 0 { // toEmail counts only when toUser is empty
			r.emails = emails
		}
	}
	if len(r.users) == 0 && len(r.depts) == 0 && !r.toAll && len(r.emails) == 0 {
		return r, errf(CodeBadRequest, "invalid request: toUser and toDept are both empty")
	}
	return r, nil
}

// inbox renders the recipients for the inbox: users as they are,
// departments as "dept:ID", e-mail addresses as they are, everyone as
// "all"; Target names the lists used, "|"-joined.
func (r recipients) inbox() (to []string, target string) {
	var kinds []string
	if len(r.users) > 0 {
		to = append(to, r.users...)
		kinds = append(kinds, "toUser")
	}
	if len(r.depts) > 0 {
		for _, d := range r.depts {
			to = append(to, "dept:"+d)
		}
		kinds = append(kinds, "toDept")
	}
	if len(r.emails) > 0 {
		to = append(to, r.emails...)
		kinds = append(kinds, "toEmail")
	}
	if r.toAll {
		to = append(to, "all")
		kinds = append(kinds, "toAll")
	}
	return to, strings.Join(kinds, "|")
}

// sendMsg serves POST /cgi/msg/send?accessToken=.
func (e *Emulator) sendMsg(ctx *fasthttp.RequestCtx) *apiError {
	now := e.core.Now()
	tok := string(ctx.QueryArgs().Peek("accessToken"))
	tokenApp, aerr := e.tokens.check(tok, now)
	if aerr != nil {
		return aerr
	}
	if e.core.Faults.TakeExpiry() {
		e.tokens.expire(tok, now)
		return errf(CodeTokenExpired, "accessToken expired")
	}
	env, aerr := e.openEnvelope(ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	if env.appID != tokenApp {
		return errf(CodeBadAppID, "invalid appId: the accessToken belongs to %q", tokenApp)
	}
	if !gjson.ValidBytes(env.msg) {
		return errf(CodeBadJSON, "invalid json")
	}
	root := gjson.ParseBytes(env.msg)
	if !root.IsObject() {
		return errf(CodeBadJSON, "invalid json: want an object")
	}
	mt := root.Get("msgType")
	switch {
	case !mt.Exists():
		return badFormat("msgType required")
	case mt.Type != gjson.String || !msgTypes[mt.Str]:
		return badFormat("invalid msgType %s", mt.Raw)
	}
	rcpt, aerr := parseRecipients(root, mt.Str)
	if aerr != nil {
		return aerr
	}
	var c check
	if aerr := c.body(root, mt.Str, env.appID); aerr != nil {
		return aerr
	}

	// Unknown accounts: the message goes to the others, and errmsg lists
	// the unknown ones. When nobody is left, the call fails with 200007.
	var known, unknown []string
	for _, u := range rcpt.users {
		if e.unknown[u] {
			unknown = append(unknown, u)
		} else {
			known = append(known, u)
		}
	}
	rcpt.users = known
	if len(unknown) > 0 && len(known) == 0 && len(rcpt.depts) == 0 && !rcpt.toAll && len(rcpt.emails) == 0 {
		return errf(CodeBadToUser, "invalid toUser: %s", strings.Join(unknown, "|"))
	}
	if e.core.Faults.Fail() {
		return errInternal
	}

	body := env.msg
	for _, ed := range c.edits {
		if b, err := sjson.SetBytes(body, ed.path, ed.value); err == nil {
			body = b
		}
	}
	to, target := rcpt.inbox()
	e.core.Inbox.Add(emu.Message{
		Path:   string(ctx.Path()),
		Vendor: Vendor,
		From:   env.appID,
		To:     to,
		Target: target,
		Type:   mt.Str,
		Body:   body,
	})
	msg := "ok"
	if len(unknown) > 0 {
		msg = "invalid toUser: " + strings.Join(unknown, "|")
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, answer{ErrCode: CodeOK, ErrMsg: msg})
	return nil
}
