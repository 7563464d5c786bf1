package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/plugins/internal/house"
	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// sent is one opapp message of a request, read back from its tag.
type sent struct {
	m          int
	toType, to string
	typ, label string
	failed     bool
	code       abi.Code
	err        string
	status     int
}

// DecodeResponse turns opapp's answers into one result per (message,
// recipient): code 200 accepts the whole request; code 500 lists in data
// the messages that failed, and the others were accepted.
func (c *codec) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	sdk.BeginResults(out)
	for i := 0; i < answers.Len(); i++ {
		c.decodeAnswer(answers.At(i), out)
	}
	if err := c.unsent(opts, batch, out); err != nil {
		return err
	}
	sdk.EndResults(out)
	return nil
}

func (c *codec) decodeAnswer(a *sdk.Answer, out *sdk.JSON) {
	c.sent = c.sent[:0]
	sdk.Parse(a.Tag).ForEach(func(_, e gjson.Result) bool {
		// [message, to_type, to, msgType(, degraded)]
		var s sent
		k := 0
		e.ForEach(func(_, v gjson.Result) bool {
			switch k {
			case 0:
				s.m = int(v.Int())
			case 1:
				s.toType = v.Str
			case 2:
				s.to = v.Str
			case 3:
				s.typ = v.Str
			case 4:
				s.label = v.Str
			}
			k++
			return true
		})
		if k >= 4 {
			c.sent = append(c.sent, s)
		}
		return true
	})
	failAll := func(code abi.Code, msg string, status int) {
		for k := range c.sent {
			c.sent[k].failed, c.sent[k].code, c.sent[k].err, c.sent[k].status = true, code, msg, status
		}
	}
	body := sdk.Parse(a.Body)
	code := body.Get("code")
	message := body.Get("message").Str
	switch {
	case a.Status == 0:
		tr := a.Transport()
		failAll(tr.Code, tr.Message, 0)
	case a.Status < 200 || a.Status > 299:
		if message == "" {
			message = "opapp answered HTTP " + strconv.Itoa(a.Status)
		}
		failAll(sdk.CodeOfHTTP(a.Status), message, a.Status)
	case code.Type != gjson.Number:
		failAll(abi.CodeUpstream, "opapp answered without a code", a.Status)
	case code.Int() == 200:
		// Every message accepted.
	case code.Int() == 500 && body.Get("data.#").Int() > 0:
		c.markFailed(body.Get("data"), message)
	default:
		if message == "" {
			message = "未知异常"
		}
		failAll(house.CodeOf(int(code.Int())), message, int(code.Int()))
	}
	for k := range c.sent {
		s := &c.sent[k]
		r := sdk.Result{Message: s.m, To: s.to, ToType: s.toType, OK: !s.failed, Degraded: s.label}
		if s.failed {
			r.Code, r.Error, r.Status = s.code, s.err, s.status
		}
		sdk.AppendResult(out, &r)
	}
}

// markFailed marks the sent messages that the data list of a code 500
// answer echoes. Each echoed message is matched to the first sent message
// with the same recipient and type that is not matched yet, so duplicates
// are counted right. The message "[e1, e2]" gives each failure its text
// when it lists one per failed message.
func (c *codec) markFailed(data gjson.Result, message string) {
	n := int(data.Get("#").Int())
	var parts []string
	if strings.HasPrefix(message, "[") && strings.HasSuffix(message, "]") {
		parts = strings.Split(message[1:len(message)-1], ", ")
		if len(parts) != n {
			parts = nil
		}
	}
	k := 0
	data.ForEach(func(_, item gjson.Result) bool {
		body := item.Get("msgBody")
		if body.Type == gjson.String {
			body = gjson.Parse(body.Str)
		}
		to := body.Get("toUser")
		toText := to.Str
		if to.Type == gjson.Number {
			toText = to.Raw
		}
		typ := item.Get("msgType").Str
		tt := body.Get("targetType").Str
		if tt == "" {
			tt = targetGroups
		}
		text := message
		if parts != nil {
			text = parts[k]
		}
		if text == "" {
			text = "未知异常"
		}
		if s := c.match(toText, typ, tt, true); s != nil {
			s.failed, s.code, s.err, s.status = true, abi.CodeUpstream, text, 500
		} else if s := c.match(toText, typ, tt, false); s != nil {
			s.failed, s.code, s.err, s.status = true, abi.CodeUpstream, text, 500
		}
		k++
		return true
	})
}

// match finds the first sent message not yet failed with this recipient
// and type (and target type, when strict).
func (c *codec) match(to, typ, tt string, strict bool) *sent {
	for k := range c.sent {
		s := &c.sent[k]
		if s.failed || s.to != to || (typ != "" && s.typ != typ) {
			continue
		}
		if strict && targetOf(s.toType) != tt {
			continue
		}
		return s
	}
	return nil
}

// unsent reports, under the degrade policy, the (message, recipient)
// pairs EncodeRequest did not send.
func (c *codec) unsent(opts, batch []byte, out *sdk.JSON) error {
	policy, err := sdk.RoutePolicy(opts)
	if err != nil || policy != sdk.PolicyDegrade {
		return err
	}
	msgs, err := sdk.Batch(batch)
	if err != nil {
		return err
	}
	i := -1
	msgs.ForEach(func(_, msg gjson.Result) bool {
		i++
		p, perr := c.planMessage(i, msg, policy)
		if perr != nil {
			err = perr
			return false
		}
		sdk.EachRecipient(msg, func(toType, id string) bool {
			r := sdk.Result{Message: i, To: id, ToType: toType, Code: abi.CodeUnsupported}
			switch {
			case targetOf(toType) == "":
				r.Error = "opapp: opapp cannot address recipients of type " + toType
			case p.typ == "":
				r.Error = "opapp: " + p.why
			default:
				return true
			}
			sdk.AppendResult(out, &r)
			return true
		})
		return true
	})
	return err
}

// EncodeResponse answers the opapp client as its document shows: code 200
// when every message was accepted; otherwise code 500, the failure texts
// in message, and the failed messages in data exactly as the client sent
// them.
func (c *codec) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	res := sdk.Parse(results)
	b := &out.Body
	if code, msg, field, ok := sdk.TopError(res); ok {
		b.Object().KeyInt("code", int64(house.BodyCode(code)))
		house.WriteMessage(b, field, msg)
		b.Key("data").Null().Key("page").Null()
		house.WriteFoot(b, opts)
		b.End()
		return nil
	}
	n := 0
	if msgs, err := sdk.Batch(batch); err == nil {
		n = int(msgs.Get("#").Int())
	}
	c.failed = c.failed[:0]
	c.errs = c.errs[:0]
	c.reported = c.reported[:0]
	for range n {
		c.failed = append(c.failed, false)
		c.errs = append(c.errs, "")
		c.reported = append(c.reported, false)
	}
	reported := c.reported
	res.Get(sdk.ResultsList).ForEach(func(_, r gjson.Result) bool {
		m := int(r.Get(sdk.ResMessage).Int())
		if m < 0 || m >= n {
			return true
		}
		reported[m] = true
		if r.Get(sdk.ResOK).Type != gjson.True && !c.failed[m] {
			c.failed[m], c.errs[m] = true, r.Get(sdk.ResError).Str
		}
		return true
	})
	nFailed := 0
	for m := range n {
		if !reported[m] {
			c.failed[m] = true // never report success the provider did not give
		}
		if c.failed[m] {
			nFailed++
		}
	}
	b.Object()
	if nFailed == 0 {
		b.KeyInt("code", 200).KeyString("message", "成功")
		b.Key("data").Array().End()
		b.Key("page").Null()
		house.WriteFoot(b, opts)
		b.End()
		return nil
	}
	b.KeyInt("code", 500)
	b.Key("message").String(c.failureText())
	b.Key("data").Array()
	k := 0
	sdk.Get(clientBody, "messages").ForEach(func(_, m gjson.Result) bool {
		if k < n && c.failed[k] {
			b.Value(m)
		}
		k++
		return true
	})
	if k < n {
		// The client body is not the one decoded: rebuild the rest.
		msgs, _ := sdk.Batch(batch)
		j := 0
		msgs.ForEach(func(_, msg gjson.Result) bool {
			if j >= k && c.failed[j] {
				echo(b, msg)
			}
			j++
			return true
		})
	}
	b.End()
	house.WriteFoot(b, opts)
	b.End()
	return nil
}

// failureText is the message of a code 500 answer: the failure texts in
// brackets, as the document's "[未知异常, 未知异常]".
func (c *codec) failureText() string {
	var sb strings.Builder
	sb.WriteByte('[')
	first := true
	for m, f := range c.failed {
		if !f {
			continue
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		e := c.errs[m]
		if e == "" {
			e = "未知异常"
		}
		sb.WriteString(e)
	}
	sb.WriteByte(']')
	return sb.String()
}

// echo writes an opapp message rebuilt from a canonical one.
func echo(b *sdk.JSON, msg gjson.Result) {
	typ := typeOf(msg.Get(sdk.KeyKind).Str)
	to := msg.Get("to.users.0")
	tt := targetUsers
	if !to.Exists() {
		to, tt = msg.Get("to.groups.0"), targetGroups
	}
	b.Object().KeyString("msgType", typ)
	b.Key("msgBody").Object()
	b.KeyString("toUser", to.Str).KeyString("fromUser", msg.Get(sdk.KeyFrom).Str)
	b.KeyString("msgType", typ).KeyString("msg", msg.Get(sdk.KeyText).Str)
	b.KeyString("targetType", tt)
	b.End()
	b.KeyString("fileUrl", msg.Get("media.url").Str)
	b.End()
}
