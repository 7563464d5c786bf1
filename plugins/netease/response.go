package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// tagInfo is a parsed request tag (see beginTag).
type tagInfo struct {
	ep     string // 2c, 2b, 1s, 1b
	msg    int
	list   byte // u, g, r
	lo, hi int
	label  string
}

func parseTag(tag string) (t tagInfo, ok bool) {
	ep, rest, _ := strings.Cut(tag, " ")
	if ep != "2c" && ep != "2b" && ep != "1s" && ep != "1b" {
		return t, false
	}
	t.ep = ep
	msg, rest, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(msg)
	if err != nil || n < 0 {
		return t, false
	}
	t.msg = n
	span, rest, _ := strings.Cut(rest, " ")
	if len(span) < 4 || span[0] != 'u' && span[0] != 'g' && span[0] != 'r' {
		return t, false
	}
	t.list = span[0]
	lo, hi, found := strings.Cut(span[1:], "-")
	l, err1 := strconv.Atoi(lo)
	h, err2 := strconv.Atoi(hi)
	if !found || err1 != nil || err2 != nil || l < 0 || h <= l {
		return t, false
	}
	t.lo, t.hi = l, h
	if rest != "" {
		if !strings.HasPrefix(rest, "~") || strings.IndexByte(rest, ' ') >= 0 {
			return t, false
		}
		t.label = rest[1:]
	}
	return t, true
}

func listOf(t byte) (key, toType string) {
	switch t {
	case 'g':
		return sdk.ToGroups, sdk.ToTypeGroup
	case 'r':
		return sdk.ToRooms, sdk.ToTypeRoom
	}
	return sdk.ToUsers, sdk.ToTypeUser
}

// DecodeResponse turns each NetEase answer into one result per receiver
// it covered. NetEase answers errors with HTTP 200 and a code other than
// 200; only code 200 with the message (v2 data, v1 msgid) or a receiver in
// the batch's success list is a success.
func (c *codec) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	o, err := readOptions(opts)
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
			return sdk.Error(abi.CodeInternal, "", "netease: answer %d carries the tag %s, which this codec did not write", i, sdk.Quote(str(a.Tag)))
		}
		key, toType := listOf(t.list)
		c.users = c.users[:0]
		j := 0
		c.msgs[t.msg].Get(sdk.KeyTo).Get(key).ForEach(func(_, v gjson.Result) bool {
			if v.Type != gjson.String || v.Str == "" {
				return true
			}
			if j >= t.lo {
				c.users = append(c.users, v.Str)
			}
			j++
			return j < t.hi
		})
		if len(c.users) != t.hi-t.lo {
			return sdk.Error(abi.CodeInternal, "", "netease: answer %d covers %s %d-%d, which message %d does not have", i, key, t.lo, t.hi, t.msg)
		}
		r := sdk.Result{Message: t.msg, ToType: toType, Degraded: t.label}
		c.answer(out, a, &t, &r)
	}
	if o.policy == sdk.PolicyDegrade {
		for i, m := range c.msgs {
			reportSkipped(out, i, m, o.v1)
		}
	}
	sdk.EndResults(out)
	return nil
}

// reportSkipped appends a not-sent result for each recipient the encoder
// skipped under policy degrade: departments, e-mail addresses, the whole
// organisation, and with api v1 super teams.
func reportSkipped(out *sdk.JSON, i int, m gjson.Result, v1 bool) {
	to := m.Get(sdk.KeyTo)
	for _, list := range [...]string{sdk.ToRooms, sdk.ToDepartments, sdk.ToEmails} {
		if list == sdk.ToRooms && !v1 {
			continue
		}
		r := sdk.Result{Message: i, ToType: sdk.ToTypeOf(list), Code: abi.CodeUnsupported, Error: unaddressable(list, v1)}
		to.Get(list).ForEach(func(_, v gjson.Result) bool {
			if v.Type == gjson.String && v.Str != "" {
				r.To = v.Str
				sdk.AppendResult(out, &r)
			}
			return true
		})
	}
	if to.Get(sdk.ToAll).Type == gjson.True {
		r := sdk.Result{Message: i, ToType: sdk.ToTypeAll, Code: abi.CodeUnsupported, Error: unaddressable(sdk.ToAll, v1)}
		sdk.AppendResult(out, &r)
	}
}

// answer appends the results of one answer for the receivers in c.users.
func (c *codec) answer(out *sdk.JSON, a *sdk.Answer, t *tagInfo, r *sdk.Result) {
	fail := func(code abi.Code, status int, text string) {
		r.OK, r.Code, r.Status, r.Error = false, code, status, text
		for _, u := range c.users {
			r.To = u
			sdk.AppendResult(out, r)
		}
	}
	if a.Status == 0 {
		ge := a.Transport()
		fail(ge.Code, 0, ge.Message)
		return
	}
	if a.Status != 200 {
		fail(sdk.CodeOfHTTP(a.Status), a.Status, "netease answered HTTP "+strconv.Itoa(a.Status))
		return
	}
	body := str(a.Body)
	if !gjson.Valid(body) {
		fail(abi.CodeUpstream, 0, "netease answered with a body that is not JSON")
		return
	}
	root := gjson.Parse(body)
	code := root.Get("code")
	if code.Type != gjson.Number {
		fail(abi.CodeUpstream, 0, "netease answered without a code")
		return
	}
	if n := code.Int(); n != 200 {
		text := root.Get("msg").Str
		if text == "" {
			text = root.Get("desc").Str
		}
		if text == "" {
			text = "netease code " + code.Raw
		}
		fail(codeOf(n), int(n), text)
		return
	}
	data := root.Get("data")
	if !data.Exists() {
		data = root.Get("ret") // the official SDK reads either
	}
	switch t.ep {
	case "2c", "1s":
		idKey := "message_server_id"
		if t.ep == "1s" {
			idKey = "msgid"
		}
		id := data.Get(idKey)
		if !data.IsObject() {
			fail(abi.CodeUpstream, 200, "netease answered code 200 without the message")
			return
		}
		r.OK, r.ID = true, idString(id)
		r.To = c.users[0]
		sdk.AppendResult(out, r)
	case "2b":
		if !data.IsObject() {
			fail(abi.CodeUpstream, 200, "netease answered code 200 without success_list")
			return
		}
		c.batchV2(out, data, r)
	case "1b":
		c.batchV1(out, root, r)
	}
}

// receiverIndex maps the receivers of c.users to their positions, and
// clears c.seen.
func (c *codec) receiverIndex() {
	if c.index == nil {
		c.index = make(map[string]int, len(c.users))
	}
	clear(c.index)
	for j, u := range c.users {
		if _, dup := c.index[u]; !dup {
			c.index[u] = j
		}
	}
	c.seen = c.seen[:0]
	for range c.users {
		c.seen = append(c.seen, false)
	}
}

// batchV2 reads success_list and failed_list. A receiver in neither was
// not reported on, so it is not a success.
func (c *codec) batchV2(out *sdk.JSON, data gjson.Result, r *sdk.Result) {
	c.receiverIndex()
	data.Get("success_list").ForEach(func(_, s gjson.Result) bool {
		if j, ok := c.index[s.Get("receiver_id").Str]; ok && !c.seen[j] {
			c.seen[j] = true
			*r = sdk.Result{Message: r.Message, To: c.users[j], ToType: r.ToType, OK: true,
				ID: idString(s.Get("message_server_id")), Degraded: r.Degraded}
			sdk.AppendResult(out, r)
		}
		return true
	})
	data.Get("failed_list").ForEach(func(_, f gjson.Result) bool {
		if j, ok := c.index[f.Get("receiver_id").Str]; ok && !c.seen[j] {
			c.seen[j] = true
			n := f.Get("error_code").Int()
			*r = sdk.Result{Message: r.Message, To: c.users[j], ToType: r.ToType, Code: codeOf(n),
				Status: int(n), Error: f.Get("error_msg").Str, Degraded: r.Degraded}
			if r.Error == "" {
				r.Error = "netease code " + strconv.FormatInt(n, 10)
			}
			sdk.AppendResult(out, r)
		}
		return true
	})
	c.unreported(out, r)
}

// batchV1 reads sendBatchMsg.action's top-level unregister and msgids.
// unregister is an array, or in older servers a JSON array in a string.
func (c *codec) batchV1(out *sdk.JSON, root gjson.Result, r *sdk.Result) {
	c.receiverIndex()
	unreg := root.Get("unregister")
	if unreg.Type == gjson.String && gjson.Valid(unreg.Str) {
		unreg = gjson.Parse(unreg.Str)
	}
	unreg.ForEach(func(_, v gjson.Result) bool {
		if j, ok := c.index[v.Str]; ok && !c.seen[j] {
			c.seen[j] = true
			*r = sdk.Result{Message: r.Message, To: c.users[j], ToType: r.ToType, Code: abi.CodeNotFound,
				Error: "account not registered", Degraded: r.Degraded}
			sdk.AppendResult(out, r)
		}
		return true
	})
	ids := root.Get("msgids")
	for j, u := range c.users {
		if c.seen[j] {
			continue
		}
		c.seen[j] = true
		*r = sdk.Result{Message: r.Message, To: u, ToType: r.ToType, OK: true, Degraded: r.Degraded}
		if ids.IsObject() {
			r.ID = idString(ids.Get(gjson.Escape(u)))
		}
		sdk.AppendResult(out, r)
	}
}

// unreported fails every receiver neither list mentioned.
func (c *codec) unreported(out *sdk.JSON, r *sdk.Result) {
	for j, u := range c.users {
		if c.seen[j] {
			continue
		}
		*r = sdk.Result{Message: r.Message, To: u, ToType: r.ToType, Code: abi.CodeUpstream,
			Error: "netease did not report on this receiver", Degraded: r.Degraded}
		sdk.AppendResult(out, r)
	}
}

// idString returns a message id as the canonical string: a number as
// written (int64 ids lose nothing), a string as it is.
func idString(v gjson.Result) string {
	switch v.Type {
	case gjson.Number:
		return v.Raw
	case gjson.String:
		return v.Str
	}
	return ""
}

// codeOf maps a NetEase code (vendors.md §2.7) to a canonical code.
func codeOf(n int64) abi.Code {
	switch n {
	case 414, 417, 431, 509:
		return abi.CodeBadRequest
	case 302:
		return abi.CodeUnauthorized
	case 301, 315, 403, 422, 804:
		return abi.CodeForbidden
	case 404, 803:
		return abi.CodeNotFound
	case 405, 419:
		return abi.CodeTooLarge
	case 416:
		return abi.CodeRateLimited
	case 408:
		return abi.CodeTimeout
	case 100001, 100002:
		// Youdu's unknown and expired tokens, should a Youdu code reach a
		// NetEase client through a result.
		return abi.CodeUnauthorized
	}
	return abi.CodeUpstream
}

// isNeteaseCode reports whether n is a code NetEase documents, so that a
// result that came from NetEase keeps its own code.
func isNeteaseCode(n int64) bool {
	switch n {
	case 201, 301, 302, 315, 403, 404, 405, 406, 408, 413, 414, 415, 416, 417, 418, 419,
		422, 431, 500, 503, 508, 509, 514, 998, 999:
		return true
	}
	return n >= 801 && n <= 810 || n >= 13001 && n <= 13005
}

// codeFor returns the NetEase code a client gets for a canonical failure:
// the provider's own code when it is a NetEase code, otherwise the closest
// one.
func codeFor(code abi.Code, status int64) int64 {
	if status != 0 && isNeteaseCode(status) {
		return status
	}
	switch code {
	case abi.CodeBadRequest, abi.CodeUnsupported, abi.CodeUnauthorized:
		// NetEase answers a bad CheckSum, AppKey or CurTime with 414.
		return 414
	case abi.CodeForbidden:
		return 403
	case abi.CodeNotFound:
		return 404
	case abi.CodeTooLarge:
		return 405
	case abi.CodeRateLimited:
		return 416
	case abi.CodeTimeout:
		return 408
	case abi.CodeBusy, abi.CodeNotSent:
		return 503
	}
	return 500
}

// clientEndpoint returns the endpoint the client called: recorded in the
// batch by DecodeRequest, or else guessed from its body.
func clientEndpoint(batch gjson.Result, clientBody []byte) string {
	if ep := batch.Get("vendor.netease.endpoint").Str; ep != "" {
		return ep
	}
	b := strings.TrimSpace(str(clientBody))
	switch {
	case strings.HasPrefix(b, "{"):
		if gjson.Get(b, "receiver_ids").Exists() {
			return epV2Batch
		}
		return epV2
	case b == "":
		return epV2
	case strings.Contains(b, "toAccids=") || strings.Contains(b, "fromAccid="):
		return epV1Batch
	}
	return epV1
}

// EncodeResponse answers the NetEase client in the form of the endpoint it
// called, always with HTTP 200.
func (c *codec) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	doc := str(results)
	if !gjson.Valid(doc) {
		return sdk.Error(abi.CodeInternal, "", "netease: results are not valid JSON")
	}
	res := gjson.Parse(doc)
	var root, msg gjson.Result
	if len(batch) > 0 && gjson.Valid(str(batch)) {
		root = gjson.Parse(str(batch))
		msg = root.Get("messages.0")
	}
	ep := clientEndpoint(root, clientBody)
	now := sdk.NowMillis(opts)
	v1 := ep == epV1 || ep == epV1Batch
	if code, text, f, ok := sdk.TopError(res); ok {
		c.scratch = c.scratch[:0]
		if f != "" {
			c.scratch = append(append(c.scratch, f...), ": "...)
		}
		c.scratch = append(c.scratch, text...)
		if len(c.scratch) == 0 {
			c.scratch = append(c.scratch, code...)
		}
		writeError(&out.Body, v1, codeFor(code, 0), c.scratch)
		return nil
	}
	// The outcome of message 0, the one a NetEase request carries.
	var okN, failN int
	var first, firstOK gjson.Result
	same := true
	list := res.Get(sdk.ResultsList)
	list.ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResMessage).Int() != 0 {
			return true
		}
		if r.Get(sdk.ResOK).Type == gjson.True {
			if okN == 0 {
				firstOK = r
			}
			okN++
			return true
		}
		if failN == 0 {
			first = r
		} else if same && !sameFailure(first, r) {
			same = false
		}
		failN++
		return true
	})
	body := &out.Body
	if okN+failN == 0 {
		writeError(body, v1, 500, []byte("the provider reported no result"))
		return nil
	}
	fails := func() {
		c.scratch = append(c.scratch[:0], first.Get(sdk.ResError).Str...)
		if len(c.scratch) == 0 {
			c.scratch = append(c.scratch, first.Get(sdk.ResCode).Str...)
		}
		writeError(body, v1, codeFor(abi.Code(first.Get(sdk.ResCode).Str), first.Get(sdk.ResStatus).Int()), c.scratch)
	}
	// A batch reports receivers one by one, unless the whole call failed
	// the same way (NetEase then answers with the code).
	wholeCall := okN == 0 && same && first.Get(sdk.ResCode).Str != string(abi.CodeNotFound)
	switch ep {
	case epV2Batch:
		if wholeCall {
			fails()
			return nil
		}
		c.batchAnswerV2(body, msg, list, now)
	case epV1Batch:
		if wholeCall {
			fails()
			return nil
		}
		body.Object().Key("code").Int(200)
		body.Key("unregister").Array()
		list.ForEach(func(_, r gjson.Result) bool {
			if r.Get(sdk.ResMessage).Int() == 0 && r.Get(sdk.ResOK).Type != gjson.True {
				body.String(r.Get(sdk.ResTo).Str)
			}
			return true
		})
		body.End()
		body.Key("timetag").Int(now)
		body.Key("msgids").Object()
		list.ForEach(func(_, r gjson.Result) bool {
			if r.Get(sdk.ResMessage).Int() == 0 && r.Get(sdk.ResOK).Type == gjson.True {
				if id := r.Get(sdk.ResID).Str; id != "" {
					body.Key(r.Get(sdk.ResTo).Str)
					writeID(body, id)
				}
			}
			return true
		})
		body.End().End()
	default: // v2, v1: one receiver, all or nothing
		if failN > 0 {
			fails()
			return nil
		}
		id := firstOK.Get(sdk.ResID).Str
		body.Object().Key("code").Int(200)
		if ep == epV1 {
			body.Key("data").Object()
			if id != "" {
				body.Key("msgid")
				writeID(body, id)
			}
			body.Key("timetag").Int(now).Key("antispam").Bool(false).End()
			body.End()
			return nil
		}
		body.Key("msg").String("success")
		body.Key("data").Object()
		if id != "" {
			body.Key("message_server_id")
			writeID(body, id)
		}
		c.echoMessage(body, msg, firstOK.Get(sdk.ResTo).Str, firstOK.Get(sdk.ResToType).Str, now)
		body.End().End()
	}
	return nil
}

func sameFailure(a, b gjson.Result) bool {
	return a.Get(sdk.ResCode).Str == b.Get(sdk.ResCode).Str &&
		a.Get(sdk.ResStatus).Int() == b.Get(sdk.ResStatus).Int() &&
		a.Get(sdk.ResError).Str == b.Get(sdk.ResError).Str
}

// writeError writes NetEase's error shape: v1 {"code","desc"}, v2
// {"code","msg"}.
func writeError(body *sdk.JSON, v1 bool, code int64, text []byte) {
	key := "msg"
	if v1 {
		key = "desc"
	}
	body.Object().Key("code").Int(code).Key(key).StringBytes(text).End()
}

// writeID writes a message id as NetEase does, a number, when it is one.
func writeID(body *sdk.JSON, id string) {
	if isDigits(id) {
		body.RawString(id)
	} else {
		body.String(id)
	}
}

// echoMessage writes what a v2 answer says about the message it stored:
// the members of the request, from the canonical message.
func (c *codec) echoMessage(body *sdk.JSON, msg gjson.Result, to, toType string, t int64) {
	if id := msg.Get(sdk.KeyID).Str; id != "" {
		body.Key("message_client_id").String(id)
	}
	if from := msg.Get(sdk.KeyFrom).Str; from != "" {
		body.Key("sender_id").String(from)
	}
	conv := int64(1)
	switch toType {
	case sdk.ToTypeGroup:
		conv = 2
	case sdk.ToTypeRoom:
		conv = 3
	}
	body.Key("conversation_type").Int(conv)
	if to != "" {
		body.Key("receiver_id").String(to)
	}
	body.Key("create_time").Int(t)
	c.echoContent(body, msg)
}

// echoContent writes message_type, text, sub_type and attachment of msg.
func (c *codec) echoContent(body *sdk.JSON, msg gjson.Result) {
	kind := msg.Get(sdk.KeyKind).Str
	typ := typeOf(kind)
	if typ < 0 {
		return
	}
	body.Key("message_type").Int(typ)
	if t := msg.Get(sdk.KeyText).Str; t != "" {
		body.Key("text").String(t)
	}
	switch typ {
	case typeImage, typeAudio, typeVideo, typeFile:
		if m := msg.Get(sdk.KeyMedia); m.Get(sdk.MediaURL).Str != "" {
			body.Key("attachment")
			writeAttachment(body, kind, m, false)
		}
	case typeLocation:
		l := msg.Get(sdk.KeyLocation)
		body.Key("attachment").Object()
		if a := l.Get(sdk.LocAddress).Str; a != "" {
			body.Key("title").String(a)
		}
		body.Key("lng").Float(l.Get(sdk.LocLng).Float()).Key("lat").Float(l.Get(sdk.LocLat).Float()).End()
	case typeCustom:
		cu := msg.Get(sdk.KeyCustom)
		if st := cu.Get(sdk.CustomSubType).Int(); st > 0 {
			body.Key("sub_type").Int(st)
		}
		if d := cu.Get(sdk.CustomData); d.Exists() {
			body.Key("attachment").RawString(d.Raw)
		}
	}
}

// batchAnswerV2 writes a v2 batch answer: success_list and failed_list.
func (c *codec) batchAnswerV2(body *sdk.JSON, msg, list gjson.Result, t int64) {
	body.Object().Key("code").Int(200).Key("msg").String("success")
	body.Key("data").Object()
	body.Key("success_list").Array()
	list.ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResMessage).Int() != 0 || r.Get(sdk.ResOK).Type != gjson.True {
			return true
		}
		body.Object()
		if id := r.Get(sdk.ResID).Str; id != "" {
			body.Key("message_server_id")
			writeID(body, id)
		}
		if from := msg.Get(sdk.KeyFrom).Str; from != "" {
			body.Key("sender_id").String(from)
		}
		body.Key("receiver_id").String(r.Get(sdk.ResTo).Str)
		body.Key("conversation_type").Int(1)
		body.Key("create_time").Int(t)
		if typ := typeOf(msg.Get(sdk.KeyKind).Str); typ >= 0 {
			body.Key("message_type").Int(typ)
		}
		body.End()
		return true
	})
	body.End()
	body.Key("failed_list").Array()
	list.ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResMessage).Int() != 0 || r.Get(sdk.ResOK).Type == gjson.True {
			return true
		}
		body.Object().Key("receiver_id").String(r.Get(sdk.ResTo).Str)
		body.Key("error_code").Int(codeFor(abi.Code(r.Get(sdk.ResCode).Str), r.Get(sdk.ResStatus).Int()))
		text := r.Get(sdk.ResError).Str
		if text == "" {
			text = r.Get(sdk.ResCode).Str
		}
		body.Key("error_msg").String(text)
		body.End()
		return true
	})
	body.End().End().End()
}
