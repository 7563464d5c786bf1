package sdk

import (
	"strconv"
	"time"

	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// This file names every part of the canonical message model
// (docs/canonical.md) and holds the small helpers codecs share. The model is
// JSON: read it with gjson, write it with JSON. Nothing here allocates on the
// hot path.

// ModelVersion is the canonical model version, the "v" of batches and results.
const ModelVersion = 1

// Message kinds (the "kind" of a message).
const (
	KindText      = "text"
	KindImage     = "image"
	KindAudio     = "audio"
	KindVideo     = "video"
	KindFile      = "file"
	KindLocation  = "location"
	KindCommand   = "command"
	KindCustom    = "custom"
	KindNews      = "news"
	KindLink      = "link"
	KindTemplate  = "template"
	KindSystem    = "system"
	KindSMS       = "sms"
	KindMail      = "mail"
	KindTip       = "tip"
	KindExtension = "extension"
)

// Kinds lists every kind of model version 1, in the order of docs/canonical.md.
var Kinds = [...]string{
	KindText, KindImage, KindAudio, KindVideo, KindFile, KindLocation,
	KindCommand, KindCustom, KindNews, KindLink, KindTemplate, KindSystem,
	KindSMS, KindMail, KindTip, KindExtension,
}

// IsKind reports whether s is a kind of the model.
func IsKind(s string) bool {
	for _, k := range Kinds {
		if s == k {
			return true
		}
	}
	return false
}

// IsMediaKind reports whether kind carries its content in "media".
func IsMediaKind(kind string) bool {
	return kind == KindImage || kind == KindAudio || kind == KindVideo || kind == KindFile
}

// Keys of a batch.
const (
	KeyVersion  = "v"
	KeyMessages = "messages"
)

// Keys of a message.
const (
	KeyKind      = "kind"
	KeyFrom      = "from"
	KeyTo        = "to"
	KeyText      = "text"
	KeyMedia     = "media"
	KeyLocation  = "location"
	KeyCommand   = "command"
	KeyCustom    = "custom"
	KeyArticles  = "articles"
	KeyLink      = "link"
	KeyTemplate  = "template"
	KeySystem    = "system"
	KeySMS       = "sms"
	KeyMail      = "mail"
	KeyExtension = "extension"
	KeyOptions   = "options"
	KeyExt       = "ext"
	KeyVendor    = "vendor"
	KeyID        = "id"
)

// Recipient lists: the keys of a message's "to".
const (
	ToUsers       = "users"
	ToGroups      = "groups"
	ToRooms       = "rooms"
	ToDepartments = "departments"
	ToEmails      = "emails"
	// ToAll is a bool, not a list: the whole organisation.
	ToAll = "all"
)

// Recipient types: the "to_type" of a result, one per recipient list.
const (
	ToTypeUser       = "user"
	ToTypeGroup      = "group"
	ToTypeRoom       = "room"
	ToTypeDepartment = "department"
	ToTypeEmail      = "email"
	ToTypeAll        = "all"
)

// Keys of "media".
const (
	MediaURL         = "url"
	MediaID          = "media_id"
	MediaVendor      = "media_vendor"
	MediaSecret      = "secret"
	MediaName        = "name"
	MediaExt         = "ext"
	MediaMime        = "mime"
	MediaSize        = "size"
	MediaMD5         = "md5"
	MediaWidth       = "width"
	MediaHeight      = "height"
	MediaDurationMS  = "duration_ms"
	MediaThumbURL    = "thumb_url"
	MediaThumbSecret = "thumb_secret"
)

// Keys of "location". Coordinates are JSON numbers in degrees.
const (
	LocLat     = "lat"
	LocLng     = "lng"
	LocAddress = "address"
)

// Keys of "command".
const CommandAction = "action"

// Keys of "custom".
const (
	CustomEvent   = "event"
	CustomFields  = "fields"
	CustomSubType = "sub_type"
	CustomData    = "data"
)

// Keys of one entry of "articles".
const (
	ArticleTitle     = "title"
	ArticleURL       = "url"
	ArticleDigest    = "digest"
	ArticleContent   = "content"
	ArticleCover     = "cover"
	ArticleShowCover = "show_cover"
)

// Keys of "link" (also the "link" of a system item).
const (
	LinkTitle  = "title"
	LinkURL    = "url"
	LinkAction = "action"
)

// Keys of "template".
const (
	TemplateID      = "id"
	TemplateContent = "content"
)

// Keys of "system" and of one of its "items".
const (
	SystemTitle      = "title"
	SystemPopSeconds = "pop_seconds"
	SystemItems      = "items"
	SystemOnlineOnly = "online_only"
	SystemItemText   = "text"
	SystemItemLink   = "link"
)

// Keys of "sms".
const SMSFrom = "from"

// Keys of "mail" and the values of its "action".
const (
	MailAction       = "action"
	MailSubject      = "subject"
	MailFromUser     = "from_user"
	MailFromEmail    = "from_email"
	MailTime         = "time"
	MailLink         = "link"
	MailUnreadCount  = "unread_count"
	MailActionNew    = "new"
	MailActionUnread = "unread"
)

// Keys of "extension".
const (
	ExtensionType    = "type"
	ExtensionContent = "content"
)

// Keys of a message's delivery "options".
const (
	OptSilent     = "silent"
	OptOnlineOnly = "online_only"
	OptPushText   = "push_text"
	OptHistory    = "history"
	OptRoam       = "roam"
	OptSyncSender = "sync_sender"
)

// Dialect names: the keys of "vendor" and the values of "media_vendor".
const (
	DialectGetsender = "getsender"
	DialectOpapp     = "opapp"
	DialectYoudu     = "youdu"
	DialectNetease   = "netease"
	DialectEasemob   = "easemob"
)

// Keys of a results document and of one result.
const (
	ResultsError = "error"   // request-level failure, an abi.GuestError object
	ResultsList  = "results" // one entry per (message, recipient)

	ResMessage  = "message"
	ResTo       = "to"
	ResToType   = "to_type"
	ResOK       = "ok"
	ResID       = "id"
	ResCode     = "code"
	ResError    = "error"
	ResStatus   = "status"
	ResDegraded = "degraded"
)

// Route option keys (the first input field of every hook) and their values.
const (
	RouteOptPolicy   = "policy"
	RouteOptOrg      = "org"
	RouteOptApp      = "app"
	RouteOptEndpoint = "endpoint"
	RouteOptAPI      = "api"
	RouteOptSender   = "sender"

	EndpointMessages = "messages"
	EndpointLegacy   = "legacy"
	APIV1            = "v1"
	APIV2            = "v2"
)

// Policy says what an encoder does with a kind or recipient its target
// cannot carry exactly.
type Policy string

const (
	// PolicyReject fails the message with abi.CodeUnsupported (the default).
	PolicyReject Policy = "reject"
	// PolicyDegrade sends the documented fallback and marks the result
	// "degraded".
	PolicyDegrade Policy = "degrade"
)

// RoutePolicy reads options.policy. Absent or empty means PolicyReject; any
// other value is an error naming the option, so a misconfigured route fails
// loudly instead of silently rejecting or degrading.
func RoutePolicy(opts []byte) (Policy, error) {
	v := Get(opts, RouteOptPolicy)
	switch {
	case !v.Exists() || v.Type == gjson.Null || v.Str == "" && v.Type == gjson.String:
		return PolicyReject, nil
	case v.Type == gjson.String && v.Str == string(PolicyReject):
		return PolicyReject, nil
	case v.Type == gjson.String && v.Str == string(PolicyDegrade):
		return PolicyDegrade, nil
	}
	return PolicyReject, Error(abi.CodeInternal, "options.policy", "sdk: options.policy must be %q or %q, got %s", PolicyReject, PolicyDegrade, v.Raw)
}

// RouteOption returns the string route option key ("" when absent or not a
// string). The result is a view into opts.
func RouteOption(opts []byte, key string) string {
	v := Get(opts, key)
	if v.Type != gjson.String {
		return ""
	}
	return v.Str
}

// Batch returns the "messages" array of a canonical batch, after checking
// the document is an object of model version 1 (absent "v" is accepted).
//
// It does not check that the batch is valid JSON: the relay validates
// every batch a decode_request or transform hook returns before any other
// hook sees it (abi.FieldBatch), natively and once, where each guest
// re-validating it cost a tenth of a NetEase encode in wasm.
func Batch(batch []byte) (gjson.Result, error) {
	root := Parse(batch)
	if !root.IsObject() {
		return gjson.Result{}, Error(abi.CodeInternal, "", "sdk: canonical batch is not an object")
	}
	if v := root.Get(KeyVersion); v.Exists() && v.Int() != ModelVersion {
		return gjson.Result{}, Error(abi.CodeInternal, "", "sdk: canonical model version %s is not supported (want %d)", v.Raw, ModelVersion)
	}
	msgs := root.Get(KeyMessages)
	if msgs.Exists() && !msgs.IsArray() {
		return gjson.Result{}, Error(abi.CodeInternal, "", "sdk: canonical batch: messages is not an array")
	}
	return msgs, nil
}

// recipientLists is the fixed order in which codecs walk a message's
// recipients, with the result type of each list.
var recipientLists = [...]struct{ key, typ string }{
	{ToUsers, ToTypeUser},
	{ToGroups, ToTypeGroup},
	{ToRooms, ToTypeRoom},
	{ToDepartments, ToTypeDepartment},
	{ToEmails, ToTypeEmail},
}

// ToTypeOf returns the result type of a recipient list key ("users" →
// "user"), or "" for an unknown key. ToAll maps to ToTypeAll.
func ToTypeOf(listKey string) string {
	for _, l := range recipientLists {
		if l.key == listKey {
			return l.typ
		}
	}
	if listKey == ToAll {
		return ToTypeAll
	}
	return ""
}

// ListOf returns the recipient list key of a result type ("user" → "users").
func ListOf(toType string) string {
	for _, l := range recipientLists {
		if l.typ == toType {
			return l.key
		}
	}
	if toType == ToTypeAll {
		return ToAll
	}
	return ""
}

// EachRecipient calls fn for every recipient of msg, in a fixed order:
// users, groups, rooms, departments, emails, then the whole organisation
// (toType ToTypeAll, id "") when "to.all" is true. Empty and non-string ids
// are skipped (absent and empty mean the same). It stops early when fn
// returns false. id is a view into the batch.
func EachRecipient(msg gjson.Result, fn func(toType, id string) bool) {
	to := msg.Get(KeyTo)
	if !to.IsObject() {
		return
	}
	for _, l := range recipientLists {
		list := to.Get(l.key)
		if !list.IsArray() {
			continue
		}
		stop := false
		list.ForEach(func(_, v gjson.Result) bool {
			if v.Type != gjson.String || v.Str == "" {
				return true
			}
			if !fn(l.typ, v.Str) {
				stop = true
				return false
			}
			return true
		})
		if stop {
			return
		}
	}
	if to.Get(ToAll).Type == gjson.True {
		fn(ToTypeAll, "")
	}
}

// AppendRecipients appends to dst the ids of one recipient list of message
// i, v being its value (to.<list>). Absent, null, empty and non-string ids
// add nothing (absent and empty mean the same). A value that is not an
// array is a bad field "messages[i].to.<list>"; check, when not nil, says
// why an id cannot be sent ("" when it can), and the first refused id is a
// bad field "messages[i].to.<list>[n]". The ids are views into the batch.
func AppendRecipients(dst []string, i int, list string, v gjson.Result, check func(id string) string) ([]string, error) {
	if !v.IsArray() {
		if v.Exists() && v.Type != gjson.Null {
			return dst, BadField(MessageField(i, "to."+list), "must be an array of strings")
		}
		return dst, nil
	}
	var err error
	n := 0
	v.ForEach(func(_, id gjson.Result) bool {
		n++
		if id.Type != gjson.String || id.Str == "" {
			return true
		}
		if check != nil {
			if why := check(id.Str); why != "" {
				err = BadField(MessageField(i, "to."+list+"["+strconv.Itoa(n-1)+"]"), "%s %s", Quote(id.Str), why)
				return false
			}
		}
		dst = append(dst, id.Str)
		return true
	})
	return dst, err
}

// MessageField is the path of a field of message i in error documents:
// MessageField(2, "to.users") is "messages[2].to.users".
func MessageField(i int, name string) string {
	return "messages[" + strconv.Itoa(i) + "]." + name
}

// Quote quotes s for an error message, cut after 64 bytes.
func Quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// CountRecipients returns how many recipients EachRecipient would visit.
func CountRecipients(msg gjson.Result) int {
	n := 0
	EachRecipient(msg, func(string, string) bool { n++; return true })
	return n
}

// Option returns the delivery option key of msg ("options.<key>").
func Option(msg gjson.Result, key string) gjson.Result {
	return msg.Get(KeyOptions).Get(key)
}

// Silent reports whether msg asks for no notification.
func Silent(msg gjson.Result) bool { return Option(msg, OptSilent).Type == gjson.True }

// Result is one entry of a results document.
type Result struct {
	Message  int      // index of the message in the batch
	To       string   // the recipient
	ToType   string   // ToTypeUser, ToTypeGroup, ...
	OK       bool     // true only if the provider accepted it
	ID       string   // the provider's message id, if any
	Code     abi.Code // canonical code when not OK
	Error    string   // the provider's own error text
	Status   int      // the provider's own code (HTTP status or body code); 0 = none
	Degraded string   // what the message became when degraded ("location→text")
}

// BeginResults opens a results document: `{"v":1,"results":[`. Append
// entries with AppendResult and finish with EndResults.
func BeginResults(out *JSON) {
	out.Object().Key(KeyVersion).Int(ModelVersion).Key(ResultsList).Array()
}

// AppendResult appends one result entry inside BeginResults/EndResults.
func AppendResult(out *JSON, r *Result) {
	out.Object()
	out.Key(ResMessage).Int(int64(r.Message))
	out.Key(ResTo).String(r.To)
	out.Key(ResToType).String(r.ToType)
	out.Key(ResOK).Bool(r.OK)
	if r.ID != "" {
		out.Key(ResID).String(r.ID)
	}
	if !r.OK {
		code := r.Code
		if code == "" {
			code = abi.CodeUpstream
		}
		out.Key(ResCode).String(string(code))
		if r.Error != "" {
			out.Key(ResError).String(r.Error)
		}
	}
	if r.Status != 0 {
		out.Key(ResStatus).Int(int64(r.Status))
	}
	if r.Degraded != "" {
		out.Key(ResDegraded).String(r.Degraded)
	}
	out.End()
}

// EndResults closes the document opened by BeginResults.
func EndResults(out *JSON) { out.End().End() }

// AppendGuestError writes e as a JSON object value (the "error" of a results
// document).
func AppendGuestError(out *JSON, e *abi.GuestError) {
	out.Object().Key("code").String(string(e.Code)).Key("message").String(e.Message)
	if e.Field != "" {
		out.Key("field").String(e.Field)
	}
	out.End()
}

// TopError returns the request-level "error" of a results document, if any:
// its code, message and field, as views into results.
func TopError(results gjson.Result) (code abi.Code, message, field string, ok bool) {
	e := results.Get(ResultsError)
	if !e.IsObject() {
		return "", "", "", false
	}
	return abi.Code(e.Get("code").Str), e.Get("message").Str, e.Get("field").Str, true
}

// AppendFallbackText appends the text a message of an inexact kind becomes
// when a route degrades it (docs/mapping.md, "Degraded to text"), and
// returns the label for the result's "degraded" field ("location→text").
// It returns ok false for kinds that have no text fallback (command: an
// invisible signal must never be shown to a user) and for text-like kinds
// whose text is empty.
func AppendFallbackText(dst []byte, msg gjson.Result) (out []byte, label string, ok bool) {
	kind := msg.Get(KeyKind).Str
	text := msg.Get(KeyText).Str
	start := len(dst)
	switch kind {
	case KindText:
		return append(dst, text...), "", text != ""
	case KindTip:
		dst = append(dst, text...)
		label = "tip→text"
	case KindSMS:
		dst = append(dst, text...)
		label = "sms→text"
	case KindLocation:
		loc := msg.Get(KeyLocation)
		if a := loc.Get(LocAddress).Str; a != "" {
			dst = append(dst, a...)
			dst = append(dst, ' ')
		}
		dst = append(dst, '(')
		dst = appendNumber(dst, loc.Get(LocLat))
		dst = append(dst, ',')
		dst = appendNumber(dst, loc.Get(LocLng))
		dst = append(dst, ')')
		label = "location→text"
	case KindImage, KindAudio, KindVideo, KindFile:
		m := msg.Get(KeyMedia)
		dst = appendJoined(dst, text, m.Get(MediaName).Str, m.Get(MediaURL).Str)
		label = kind + "→text"
	case KindNews:
		msg.Get(KeyArticles).ForEach(func(_, a gjson.Result) bool {
			if len(dst) > start {
				dst = append(dst, '\n')
			}
			dst = appendJoined(dst, a.Get(ArticleTitle).Str, a.Get(ArticleDigest).Str, a.Get(ArticleURL).Str)
			return true
		})
		label = "news→text"
	case KindLink:
		l := msg.Get(KeyLink)
		dst = appendJoined(dst, l.Get(LinkTitle).Str, l.Get(LinkURL).Str, "")
		label = "link→text"
	case KindTemplate:
		dst = appendJoined(dst, text, msg.Get(KeyTemplate).Get(TemplateContent).Str, "")
		label = "template→text"
	case KindExtension:
		dst = appendJoined(dst, text, msg.Get(KeyExtension).Get(ExtensionContent).Str, "")
		label = "extension→text"
	case KindCustom:
		dst = appendJoined(dst, text, msg.Get(KeyCustom).Get(CustomEvent).Str, "")
		label = "custom→text"
	case KindSystem:
		s := msg.Get(KeySystem)
		dst = appendJoined(dst, s.Get(SystemTitle).Str, "", "")
		s.Get(SystemItems).ForEach(func(_, it gjson.Result) bool {
			t := it.Get(SystemItemText).Str
			if t == "" {
				l := it.Get(SystemItemLink)
				if len(dst) > start {
					dst = append(dst, '\n')
				}
				dst = appendJoined(dst, l.Get(LinkTitle).Str, l.Get(LinkURL).Str, "")
				return true
			}
			if len(dst) > start {
				dst = append(dst, '\n')
			}
			dst = append(dst, t...)
			return true
		})
		label = "system→text"
	case KindMail:
		m := msg.Get(KeyMail)
		dst = appendJoined(dst, m.Get(MailSubject).Str, m.Get(MailLink).Str, "")
		label = "mail→text"
	default: // command and unknown kinds
		return dst, "", false
	}
	if len(dst) == start {
		return dst, "", false
	}
	return dst, label, true
}

// appendJoined appends the non-empty parts separated by one space.
func appendJoined(dst []byte, a, b, c string) []byte {
	first := true
	for _, p := range [3]string{a, b, c} {
		if p == "" {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		dst = append(dst, p...)
		first = false
	}
	return dst
}

// appendNumber appends a JSON number as written, or its float value for a
// numeric string.
func appendNumber(dst []byte, v gjson.Result) []byte {
	switch v.Type {
	case gjson.Number:
		return append(dst, v.Raw...)
	case gjson.String:
		if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
			return strconv.AppendFloat(dst, f, 'f', -1, 64)
		}
	}
	return append(dst, '0')
}

// Route option keys shared by every dialect that answers with a time.
const (
	// RouteOptNow fixes the clock (Unix milliseconds) for golden tests and
	// previews; absent means the real clock.
	RouteOptNow = "now"
)

// NowMillis returns options.now when set, else the current time in Unix
// milliseconds.
func NowMillis(opts []byte) int64 {
	if v := Get(opts, RouteOptNow); v.Type == gjson.Number {
		return v.Int()
	}
	return time.Now().UnixMilli()
}

// CodeOfHTTP is the canonical code for a provider's non-2xx HTTP status. A
// provider's 401/403/404 is the relay's configuration problem (its
// credentials, org or app), not the client's, so it is CodeUpstream.
func CodeOfHTTP(status int) abi.Code {
	switch {
	case status >= 200 && status < 300:
		return ""
	case status == 400:
		return abi.CodeBadRequest
	case status == 413:
		return abi.CodeTooLarge
	case status == 429:
		return abi.CodeRateLimited
	case status == 503:
		return abi.CodeBusy
	case status == 504:
		return abi.CodeTimeout
	}
	return abi.CodeUpstream
}
