package main

import (
	"strconv"
	"strings"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// DecodeResponse turns Easemob's answers into one result per (message,
// recipient). A recipient is ok only when its id is in the answer's "data"
// map; a recipient the route could not address (degrade policy) is
// reported as unsupported.
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
	tag := sdk.Parse(a.Tag)
	r := sdk.Result{
		Message:  int(tag.Get("m").Int()),
		ToType:   tag.Get("t").Str,
		Degraded: tag.Get("d").Str,
	}
	to := tag.Get("to")
	switch {
	case a.Status == 0:
		tr := a.Transport()
		r.Code, r.Error = tr.Code, tr.Message
		eachID(to, func(id string) { r.To = id; sdk.AppendResult(out, &r) })
		return
	case a.Status < 200 || a.Status > 299:
		r.Status = a.Status
		r.Code, r.Error = errorOf(a)
		eachID(to, func(id string) { r.To = id; sdk.AppendResult(out, &r) })
		return
	}
	data := sdk.Get(a.Body, "data")
	if !data.IsObject() {
		r.Status = a.Status
		r.Code, r.Error = abi.CodeUpstream, "Easemob answered without a data map"
		eachID(to, func(id string) { r.To = id; sdk.AppendResult(out, &r) })
		return
	}
	c.data = c.data[:0]
	data.ForEach(func(k, v gjson.Result) bool {
		c.data = append(c.data, entry{k.Str, v.String()})
		return true
	})
	next := 0
	eachID(to, func(id string) {
		r.To = id
		val, found := "", false
		// Easemob answers in the order of "to": try the next entry first.
		if next < len(c.data) && c.data[next].key == id {
			val, found = c.data[next].val, true
			next++
		} else {
			for _, e := range c.data {
				if e.key == id {
					val, found = e.val, true
					break
				}
			}
		}
		switch {
		case !found:
			r.OK, r.ID, r.Code, r.Error, r.Status = false, "", abi.CodeUpstream, "Easemob did not report on this recipient", a.Status
		case val == "success":
			r.OK, r.ID, r.Code, r.Error, r.Status = true, "", "", "", 0
		default:
			r.OK, r.ID, r.Code, r.Error, r.Status = true, val, "", "", 0
		}
		sdk.AppendResult(out, &r)
	})
}

// errorOf reads Easemob's error envelope.
func errorOf(a *sdk.Answer) (abi.Code, string) {
	body := sdk.Parse(a.Body)
	desc := body.Get("error_description").Str
	name := body.Get("error").Str
	code := sdk.CodeOfHTTP(a.Status)
	if a.Status == 403 && strings.Contains(desc, "reach limit") {
		code = abi.CodeRateLimited
	}
	switch {
	case desc != "":
		return code, desc
	case name != "":
		return code, name
	}
	return code, "Easemob answered HTTP " + strconv.Itoa(a.Status)
}

func eachID(list gjson.Result, fn func(id string)) {
	list.ForEach(func(_, v gjson.Result) bool {
		fn(v.Str)
		return true
	})
}

// unsent reports the (message, recipient) pairs EncodeRequest did not send
// under the degrade policy: recipients Easemob cannot address, and
// messages with nothing to send.
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
			case p.typ == "":
				r.Error = "easemob: " + p.why
			case toType != sdk.ToTypeUser && toType != sdk.ToTypeGroup && toType != sdk.ToTypeRoom:
				r.Error = "easemob: Easemob cannot address recipients of type " + toType
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

// EncodeResponse answers the Easemob client: the success envelope with a
// "data" map of the accepted recipients, or Easemob's error envelope when
// the request failed or no recipient was accepted.
func (c *codec) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	out.ContentType = "application/json"
	res := sdk.Parse(results)
	if code, msg, field, ok := sdk.TopError(res); ok {
		writeError(out, opts, code, msg, field)
		return nil
	}
	list := res.Get(sdk.ResultsList)
	var first gjson.Result
	accepted := 0
	list.ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResOK).Type == gjson.True {
			accepted++
		} else if !first.Exists() {
			first = r
		}
		return true
	})
	if accepted == 0 {
		if !first.Exists() {
			writeError(out, opts, abi.CodeInternal, "no recipient was reported on", "")
			return nil
		}
		writeError(out, opts, abi.Code(first.Get(sdk.ResCode).Str), first.Get(sdk.ResError).Str, "")
		return nil
	}
	v := sdk.Get(batch, "vendor.easemob")
	org, app, endpoint := v.Get("org").Str, v.Get("app").Str, v.Get("endpoint").Str
	legacy := endpoint == endpointLegacy
	ids := !legacy || v.Get("use_msg_id").Type == gjson.True
	path := "/messages"
	if !legacy && endpoint != "" {
		path = "/messages/" + endpoint
	}
	b := &out.Body
	b.Object()
	b.KeyString("path", path)
	uri := sdk.RouteOption(opts, "uri_base")
	b.Key("uri").String(uri + "/" + org + "/" + app + path)
	b.KeyInt("timestamp", sdk.NowMillis(opts))
	b.KeyString("organization", org)
	b.KeyString("application", sdk.RouteOption(opts, "application"))
	b.KeyString("action", "post")
	if legacy {
		b.Key("entities").Array().End()
	}
	b.Key("data").Object()
	if c.seen == nil {
		c.seen = make(map[string]struct{})
	}
	list.ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResOK).Type != gjson.True {
			return true
		}
		to := r.Get(sdk.ResTo).Str
		if _, dup := c.seen[to]; dup {
			return true
		}
		c.seen[to] = struct{}{}
		if ids {
			b.KeyString(to, r.Get(sdk.ResID).Str)
		} else {
			b.KeyString(to, "success")
		}
		return true
	})
	clear(c.seen)
	b.End()
	b.KeyInt("duration", 0)
	b.KeyString("applicationName", app)
	b.End()
	return nil
}

// errorShape is how Easemob answers one canonical code.
type errorShape struct {
	status          int
	name, exception string
}

const (
	excIllegal  = "java.lang.IllegalArgumentException"
	excSecurity = "org.apache.usergrid.rest.exceptions.SecurityException"
	excSend     = "MessageSendException"
	excBody     = "InvalidRequestBodyException"
)

func shapeOf(code abi.Code, field string) errorShape {
	switch code {
	case abi.CodeBadRequest, abi.CodeUnsupported:
		switch {
		case field == "":
			if code == abi.CodeUnsupported {
				return errorShape{400, "message_send_error", excSend}
			}
			return errorShape{400, "invalid_request_body", excBody}
		case field == "target_type" || field == "target" || strings.HasPrefix(field, "target[") || strings.HasPrefix(field, "msg"):
			return errorShape{400, "illegal_argument", excIllegal}
		}
		return errorShape{400, "message_send_error", excSend}
	case abi.CodeUnauthorized:
		return errorShape{401, "unauthorized", excSecurity}
	case abi.CodeForbidden:
		return errorShape{403, "forbidden", excSecurity}
	case abi.CodeNotFound:
		return errorShape{404, "service_resource_not_found", "org.apache.usergrid.services.exceptions.ServiceResourceNotFoundException"}
	case abi.CodeTooLarge:
		return errorShape{413, "request_entity_too_large", excSend}
	case abi.CodeRateLimited:
		return errorShape{429, "reach_limit", "org.apache.usergrid.rest.exceptions.ReachLimitException"}
	case abi.CodeBusy:
		return errorShape{503, "service_unavailable", "ServiceUnavailableException"}
	case abi.CodeTimeout:
		return errorShape{504, "gateway_timeout", "GatewayTimeoutException"}
	case abi.CodeNotSent, abi.CodeUpstream:
		return errorShape{502, "bad_gateway", "BadGatewayException"}
	}
	return errorShape{500, "internal_server_error", "java.lang.RuntimeException"}
}

// writeError writes Easemob's error envelope.
func writeError(out *sdk.Reply, opts []byte, code abi.Code, desc, field string) {
	s := shapeOf(code, field)
	out.Status = s.status
	if desc == "" {
		desc = string(code)
	}
	b := &out.Body
	b.Reset()
	b.Object()
	b.KeyString("error", s.name)
	b.KeyString("exception", s.exception)
	b.KeyInt("timestamp", sdk.NowMillis(opts))
	b.KeyInt("duration", 0)
	b.KeyString("error_description", desc)
	b.End()
}
