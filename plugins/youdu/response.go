package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// span is a half-open range of indices into one recipient list.
type span struct{ lo, hi int }

// tagInfo is a parsed request tag (see beginTag).
type tagInfo struct {
	msg     int
	u, d, e span
	all     bool
	label   string
}

func parseTag(tag string) (t tagInfo, ok bool) {
	head, rest, _ := strings.Cut(tag, " ")
	n, err := strconv.Atoi(head)
	if err != nil || n < 0 {
		return t, false
	}
	t.msg = n
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, " ")
		switch {
		case part == "a":
			t.all = true
		case strings.HasPrefix(part, "~"):
			t.label = part[1:]
		case len(part) > 1 && (part[0] == 'u' || part[0] == 'd' || part[0] == 'e'):
			lo, hi, found := strings.Cut(part[1:], "-")
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if !found || err1 != nil || err2 != nil || l < 0 || h < l {
				return t, false
			}
			switch part[0] {
			case 'u':
				t.u = span{l, h}
			case 'd':
				t.d = span{l, h}
			default:
				t.e = span{l, h}
			}
		default:
			return t, false
		}
	}
	return t, true
}

// DecodeResponse turns each /cgi/msg/send answer into one result per
// recipient it covered. Youdu answers for the whole request: errcode 0
// means every covered recipient was accepted, any other errcode that none
// was.
func (c *codec) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	policy, err := sdk.RoutePolicy(opts)
	if err != nil {
		return err
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	c.msgs = c.msgs[:0]
	msgs.ForEach(func(_, m gjson.Result) bool {
		c.msgs = append(c.msgs, m)
		return true
	})
	sdk.BeginResults(out)
	for i := 0; i < answers.Len(); i++ {
		a := answers.At(i)
		t, ok := parseTag(str(a.Tag))
		if !ok || t.msg >= len(c.msgs) {
			return sdk.Error(abi.CodeInternal, "", "youdu: answer %d carries the tag %s, which this codec did not write", i, sdk.Quote(str(a.Tag)))
		}
		r := sdk.Result{Message: t.msg, Degraded: t.label}
		c.invalid = c.invalid[:0]
		if outcome(a, &r) {
			c.invalid = invalidUsers(c.invalid, str(a.Body))
		}
		to := c.msgs[t.msg].Get(sdk.KeyTo)
		c.emitSpan(out, &r, to.Get(sdk.ToUsers), t.u, sdk.ToTypeUser)
		c.emitSpan(out, &r, to.Get(sdk.ToDepartments), t.d, sdk.ToTypeDepartment)
		c.emitSpan(out, &r, to.Get(sdk.ToEmails), t.e, sdk.ToTypeEmail)
		if t.all {
			r.To, r.ToType = "", sdk.ToTypeAll
			sdk.AppendResult(out, &r)
		}
	}
	if policy == sdk.PolicyDegrade {
		for i, m := range c.msgs {
			reportSkipped(out, i, m)
		}
	}
	sdk.EndResults(out)
	return nil
}

// reportSkipped appends a not-sent result for each recipient the encoder
// skipped under policy degrade: groups, rooms, and the e-mail addresses of
// anything but mail.
func reportSkipped(out *sdk.JSON, i int, m gjson.Result) {
	to := m.Get(sdk.KeyTo)
	lists := [...]string{sdk.ToGroups, sdk.ToRooms, sdk.ToEmails}
	for _, list := range lists {
		why := unaddressable(list)
		if list == sdk.ToEmails {
			if m.Get(sdk.KeyKind).Str == sdk.KindMail {
				continue
			}
			why = "youdu: only mail messages go to e-mail addresses"
		}
		r := sdk.Result{Message: i, ToType: sdk.ToTypeOf(list), Code: abi.CodeUnsupported, Error: why}
		to.Get(list).ForEach(func(_, v gjson.Result) bool {
			if v.Type == gjson.String && v.Str != "" {
				r.To = v.Str
				sdk.AppendResult(out, &r)
			}
			return true
		})
	}
}

// emitSpan appends r for each recipient of list in s. Indices count the
// non-empty string entries only, as the encoder did. A user Youdu listed
// as invalid in an errcode 0 answer gets a failed result instead.
func (c *codec) emitSpan(out *sdk.JSON, r *sdk.Result, list gjson.Result, s span, toType string) {
	if s.hi <= s.lo {
		return
	}
	r.ToType = toType
	j := 0
	list.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.String || v.Str == "" {
			return true
		}
		if j >= s.lo {
			r.To = v.Str
			if r.OK && toType == sdk.ToTypeUser && c.isInvalid(v.Str) {
				f := sdk.Result{Message: r.Message, To: v.Str, ToType: toType, Code: abi.CodeNotFound,
					Error: "invalid toUser", Degraded: r.Degraded}
				sdk.AppendResult(out, &f)
			} else {
				sdk.AppendResult(out, r)
			}
		}
		j++
		return j < s.hi
	})
}

// invalidUsers appends the accounts an errcode 0 answer lists as invalid.
// Youdu documents that errmsg then names the recipients that do not exist
// ("invalid toUser: a|b"); the message went to the others.
func invalidUsers(dst []string, body string) []string {
	msg := gjson.Get(body, "errmsg").Str
	const marker = "invalid touser"
	if len(msg) < len(marker) {
		return dst
	}
	i := strings.Index(strings.ToLower(msg), marker)
	if i < 0 {
		return dst
	}
	list := strings.TrimLeft(msg[i+len(marker):], ": ")
	if j := strings.IndexAny(list, ";,"); j >= 0 {
		list = list[:j]
	}
	eachPart(list, func(_ int, p string) bool {
		dst = append(dst, p)
		return true
	})
	return dst
}

func (c *codec) isInvalid(user string) bool {
	for _, u := range c.invalid {
		if u == user {
			return true
		}
	}
	return false
}

// outcome fills the ok/code/error/status of r from one answer, and reports
// whether it was an errcode 0 whose errmsg is not "ok".
func outcome(a *sdk.Answer, r *sdk.Result) (notes bool) {
	if a.Status == 0 {
		ge := a.Transport()
		r.Code, r.Error = ge.Code, ge.Message
		return false
	}
	if a.Status != 200 {
		r.Code, r.Status = sdk.CodeOfHTTP(a.Status), a.Status
		r.Error = "youdu answered HTTP " + strconv.Itoa(a.Status)
		return false
	}
	body := str(a.Body)
	var errcode, errmsg gjson.Result
	if gjson.Valid(body) {
		root := gjson.Parse(body)
		errcode, errmsg = root.Get("errcode"), root.Get("errmsg")
	}
	if errcode.Type != gjson.Number {
		r.Code, r.Error = abi.CodeUpstream, "youdu answered without an errcode"
		return false
	}
	n := errcode.Int()
	if n == 0 {
		r.OK = true
		return errmsg.Str != "ok" && errmsg.Str != ""
	}
	r.Code, r.Status, r.Error = codeOf(n), int(n), errmsg.Str
	if r.Error == "" {
		r.Error = "youdu errcode " + errcode.Raw
	}
	return false
}

// codeOf maps a Youdu errcode (vendors.md §3.8) to a canonical code.
func codeOf(errcode int64) abi.Code {
	switch errcode {
	case 100000, 100001, 100002, 100005, 100006, 100008, 100009, 100010:
		// No, unknown or expired token; a bad appId, key or buin: the
		// relay's credentials.
		return abi.CodeUnauthorized
	case 3, 4:
		return abi.CodeForbidden
	case 5, 100003, 100004, 100011, 100012, 100013, 100014, 200008, 200009:
		return abi.CodeBadRequest
	case 200001:
		return abi.CodeTooLarge
	case 200007, 200010:
		return abi.CodeNotFound // no such account, no such media
	}
	return abi.CodeUpstream
}

// isYouduCode reports whether n is a code Youdu documents (§3.8), so that
// a result that came from Youdu keeps its own errcode.
func isYouduCode(n int64) bool {
	switch {
	case n == -1 || n >= 2 && n <= 5:
		return true
	case n >= 100000 && n <= 100014, n >= 200001 && n <= 200010:
		return true
	case n >= 300001 && n <= 300312, n >= 500001 && n <= 500008:
		return true
	}
	return false
}

// errcodeFor returns the Youdu errcode a client gets for a canonical
// failure: the provider's own code when it is a Youdu code, otherwise the
// closest Youdu code.
func errcodeFor(code abi.Code, status int64, field, toType string) int64 {
	if status != 0 && isYouduCode(status) {
		return status
	}
	recipient := toType == sdk.ToTypeUser || toType == sdk.ToTypeDepartment || toType == sdk.ToTypeEmail ||
		field == "toUser" || field == "toDept" || field == "toEmail"
	switch code {
	case abi.CodeUnauthorized:
		return 100001
	case abi.CodeForbidden:
		return 3
	case abi.CodeTooLarge:
		if recipient {
			return 200001
		}
		return 100003
	case abi.CodeNotFound, abi.CodeBadRequest:
		if recipient {
			return 200007
		}
		return 100003
	case abi.CodeUnsupported:
		return 100003
	}
	return -1 // rate_limited, busy, timeout, not_sent, upstream, internal
}

// EncodeResponse answers the Youdu client: {"errcode":0,"errmsg":"ok"}
// when every recipient was accepted, otherwise the errcode of the first
// failure and an errmsg that lists the recipients that failed (README.md,
// "Answers").
func (c *codec) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	doc := str(results)
	if !gjson.Valid(doc) {
		return sdk.Error(abi.CodeInternal, "", "youdu: results are not valid JSON")
	}
	res := gjson.Parse(doc)
	body := &out.Body
	if code, msg, f, ok := sdk.TopError(res); ok {
		c.scratch = c.scratch[:0]
		if f != "" {
			c.scratch = append(append(c.scratch, f...), ": "...)
		}
		c.scratch = append(c.scratch, msg...)
		if len(c.scratch) == 0 {
			c.scratch = append(c.scratch, code...)
		}
		body.Object().Key("errcode").Int(errcodeFor(code, 0, f, "")).Key("errmsg").StringBytes(c.scratch).End()
		return nil
	}

	var okN, failN int
	var first, firstOther gjson.Result
	same, unknownOnly := true, true
	res.Get(sdk.ResultsList).ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResOK).Type == gjson.True {
			okN++
			return true
		}
		if failN == 0 {
			first = r
		} else if same && !sameFailure(first, r) {
			same = false
		}
		if r.Get(sdk.ResCode).Str != string(abi.CodeNotFound) {
			if unknownOnly {
				firstOther = r
			}
			unknownOnly = false
		}
		failN++
		return true
	})
	switch {
	case failN == 0 && okN > 0:
		body.Object().Key("errcode").Int(0).Key("errmsg").String("ok").End()
		return nil
	case failN == 0:
		body.Object().Key("errcode").Int(-1).Key("errmsg").String("the provider reported no result").End()
		return nil
	case okN > 0 && unknownOnly:
		// Youdu's own partial success: the message went to the others,
		// errmsg names the recipients that do not exist.
		c.scratch = appendFailed(c.scratch[:0], res, "invalid")
		body.Object().Key("errcode").Int(0).Key("errmsg").StringBytes(c.scratch).End()
		return nil
	}
	if !unknownOnly {
		first = firstOther
	}
	errcode := errcodeFor(abi.Code(first.Get(sdk.ResCode).Str), first.Get(sdk.ResStatus).Int(), "", first.Get(sdk.ResToType).Str)
	c.scratch = c.scratch[:0]
	switch {
	case unknownOnly && !(same && first.Get(sdk.ResStatus).Int() != 0 && isYouduCode(first.Get(sdk.ResStatus).Int())):
		// Nobody exists: Youdu fails the call with the list.
		c.scratch = appendFailed(c.scratch, res, "invalid")
	case same && okN == 0:
		c.scratch = appendReason(c.scratch, first)
	default:
		c.scratch = appendReason(c.scratch, first)
		c.scratch = append(c.scratch, "; "...)
		c.scratch = appendFailed(c.scratch, res, "failed")
	}
	body.Object().Key("errcode").Int(errcode).Key("errmsg").StringBytes(c.scratch).End()
	return nil
}

// appendReason appends a failure's error text, or its code.
func appendReason(dst []byte, r gjson.Result) []byte {
	if e := r.Get(sdk.ResError).Str; e != "" {
		return append(dst, e...)
	}
	return append(dst, r.Get(sdk.ResCode).Str...)
}

func sameFailure(a, b gjson.Result) bool {
	return a.Get(sdk.ResCode).Str == b.Get(sdk.ResCode).Str &&
		a.Get(sdk.ResStatus).Int() == b.Get(sdk.ResStatus).Int() &&
		a.Get(sdk.ResError).Str == b.Get(sdk.ResError).Str
}

// appendFailed appends "<word> toUser: a|b; <word> toDept: 3" for the
// recipients that failed, one list per recipient type that has failures.
// The whole organisation is listed as department 0, as toDept writes it.
func appendFailed(dst []byte, res gjson.Result, word string) []byte {
	start := len(dst)
	for _, l := range [...][2]string{
		{sdk.ToTypeUser, "toUser"}, {sdk.ToTypeDepartment, "toDept"}, {sdk.ToTypeEmail, "toEmail"},
		{sdk.ToTypeGroup, "group"}, {sdk.ToTypeRoom, "room"},
	} {
		n := 0
		res.Get(sdk.ResultsList).ForEach(func(_, r gjson.Result) bool {
			t := r.Get(sdk.ResToType).Str
			if r.Get(sdk.ResOK).Type == gjson.True || t != l[0] && !(t == sdk.ToTypeAll && l[0] == sdk.ToTypeDepartment) {
				return true
			}
			if n == 0 {
				if len(dst) > start {
					dst = append(dst, "; "...)
				}
				dst = append(dst, word...)
				dst = append(dst, ' ')
				dst = append(dst, l[1]...)
				dst = append(dst, ": "...)
			} else {
				dst = append(dst, '|')
			}
			if t == sdk.ToTypeAll {
				dst = append(dst, '0')
			} else {
				dst = append(dst, r.Get(sdk.ResTo).Str...)
			}
			n++
			return true
		})
	}
	return dst
}
