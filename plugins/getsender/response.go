package main

import (
	"strconv"

	"github.com/imrelay/imrelay/plugins/internal/house"
	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// DecodeResponse turns getsender's answers, one per (message, user), into
// canonical results: ok only for code 200, with data.getMessageId as id.
func (c *codec) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	sdk.BeginResults(out)
	for i := 0; i < answers.Len(); i++ {
		a := answers.At(i)
		tag := sdk.Parse(a.Tag)
		r := sdk.Result{
			Message:  int(tag.Get("m").Int()),
			To:       tag.Get("to").Str,
			ToType:   sdk.ToTypeUser,
			Degraded: tag.Get("d").Str,
		}
		body := sdk.Parse(a.Body)
		code := body.Get("code")
		switch {
		case a.Status == 0:
			tr := a.Transport()
			r.Code, r.Error = tr.Code, tr.Message
		case a.Status < 200 || a.Status > 299:
			r.Code, r.Status = sdk.CodeOfHTTP(a.Status), a.Status
			r.Error = body.Get("message").Str
			if r.Error == "" {
				r.Error = "getsender answered HTTP " + strconv.Itoa(a.Status)
			}
		case code.Type != gjson.Number:
			r.Code, r.Status, r.Error = abi.CodeUpstream, a.Status, "getsender answered without a code"
		case code.Int() == 200:
			r.OK = true
			if id := body.Get("data.getMessageId"); id.Type == gjson.Number {
				r.ID = id.Raw
			} else {
				r.ID = id.Str
			}
		default:
			r.Code, r.Status = house.CodeOf(int(code.Int())), int(code.Int())
			r.Error = body.Get("message").Str
			if r.Error == "" {
				r.Error = "未知异常"
			}
		}
		sdk.AppendResult(out, &r)
	}
	if err := c.unsent(opts, batch, out); err != nil {
		return err
	}
	sdk.EndResults(out)
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
			case toType != sdk.ToTypeUser:
				r.Error = "getsender: getsender cannot address recipients of type " + toType
			case p.mt == 0:
				r.Error = "getsender: " + p.why
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

// EncodeResponse answers the getsender client: code 200 with
// data.getMessageId when every recipient was accepted, otherwise the same
// envelope with the failure's code and text and data null.
func (c *codec) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	res := sdk.Parse(results)
	b := &out.Body
	b.Object()
	if code, msg, field, ok := sdk.TopError(res); ok {
		b.KeyInt("code", int64(house.BodyCode(code)))
		house.WriteMessage(b, field, msg)
		b.Key("data").Null().Key("page").Null()
		house.WriteFoot(b, opts)
		b.End()
		return nil
	}
	var firstOK, firstFail gjson.Result
	res.Get(sdk.ResultsList).ForEach(func(_, r gjson.Result) bool {
		if r.Get(sdk.ResOK).Type == gjson.True {
			if !firstOK.Exists() {
				firstOK = r
			}
		} else if !firstFail.Exists() {
			firstFail = r
		}
		return true
	})
	switch {
	case firstFail.Exists():
		msg := firstFail.Get(sdk.ResError).Str
		if msg == "" {
			msg = "未知异常"
		}
		b.KeyInt("code", int64(house.BodyCode(abi.Code(firstFail.Get(sdk.ResCode).Str))))
		b.KeyString("message", msg)
		b.Key("data").Null()
	case !firstOK.Exists():
		// No result at all: never report success the provider did not give.
		b.KeyInt("code", 500).KeyString("message", "未知异常")
		b.Key("data").Null()
	default:
		b.KeyInt("code", 200).KeyString("message", "成功")
		b.Key("data").Object().KeyString("getMessageId", firstOK.Get(sdk.ResID).Str).End()
	}
	b.Key("page").Null()
	house.WriteFoot(b, opts)
	b.End()
	return nil
}
