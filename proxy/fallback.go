package proxy

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sdk/abi"
)

// writeFallback answers ge in the dialect's error shape without a plugin.
// The relay uses it only when the inbound codec cannot render the error
// itself: no instance could be had (the relay is overloaded, the plugin is
// backing off) or the codec failed while rendering. Every other error goes
// through the codec's encode_response, so a dialect has one renderer.
func writeFallback(ctx *fasthttp.RequestCtx, dialect string, ge *abi.GuestError, now time.Time) {
	b := ctx.Response.Body()[:0]
	status := fasthttp.StatusOK
	ct := "application/json;charset=UTF-8"
	switch dialect {
	case config.Netease:
		b = append(b, `{"code":`...)
		b = strconv.AppendInt(b, int64(neteaseCode(ge.Code)), 10)
		b = append(b, `,"msg":`...)
		b = abi.AppendJSONString(b, ge.Message)
		b = append(b, `,"desc":`...)
		b = abi.AppendJSONString(b, ge.Message)
		b = append(b, '}')
	case config.Easemob:
		status = httpStatus(ge.Code)
		b = append(b, `{"error":`...)
		b = abi.AppendJSONString(b, easemobError(ge.Code))
		b = append(b, `,"exception":"com.easemob.relay.RelayException","timestamp":`...)
		b = strconv.AppendInt(b, now.UnixMilli(), 10)
		b = append(b, `,"duration":0,"error_description":`...)
		b = abi.AppendJSONString(b, ge.Message)
		b = append(b, '}')
	case config.Youdu:
		ct = "application/json"
		b = append(b, `{"errcode":`...)
		b = strconv.AppendInt(b, int64(youduCode(ge.Code)), 10)
		b = append(b, `,"errmsg":`...)
		b = abi.AppendJSONString(b, ge.Message)
		b = append(b, '}')
	case config.Getsender, config.Opapp:
		b = append(b, `{"code":`...)
		b = strconv.AppendInt(b, int64(httpStatus(ge.Code)), 10)
		b = append(b, `,"message":`...)
		b = abi.AppendJSONString(b, ge.Message)
		b = append(b, `,"data":null,"page":null,"foot":{"operationTime":"`...)
		b = now.In(beijing).AppendFormat(b, time.DateTime)
		b = append(b, `","servicePhone":"","host":"imrelay"}}`...)
	default:
		status = httpStatus(ge.Code)
		b = ge.AppendJSON(b)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType(ct)
	ctx.SetBody(b)
}

var beijing = time.FixedZone("CST", 8*3600)

// httpStatus is the HTTP status closest to a canonical code.
func httpStatus(c abi.Code) int {
	switch c {
	case abi.CodeBadRequest:
		return fasthttp.StatusBadRequest
	case abi.CodeUnauthorized:
		return fasthttp.StatusUnauthorized
	case abi.CodeForbidden:
		return fasthttp.StatusForbidden
	case abi.CodeNotFound:
		return fasthttp.StatusNotFound
	case abi.CodeTooLarge:
		return fasthttp.StatusRequestEntityTooLarge
	case abi.CodeUnsupported:
		return fasthttp.StatusUnprocessableEntity
	case abi.CodeRateLimited:
		return fasthttp.StatusTooManyRequests
	case abi.CodeBusy:
		return fasthttp.StatusServiceUnavailable
	case abi.CodeTimeout:
		return fasthttp.StatusGatewayTimeout
	case abi.CodeNotSent, abi.CodeUpstream:
		return fasthttp.StatusBadGateway
	}
	return fasthttp.StatusInternalServerError
}

// neteaseCode follows NetEase's status table (vendors.md §2.7).
func neteaseCode(c abi.Code) int {
	switch c {
	case abi.CodeBadRequest, abi.CodeUnauthorized, abi.CodeUnsupported:
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

// easemobError is Easemob's `error` word for a code.
func easemobError(c abi.Code) string {
	switch c {
	case abi.CodeUnauthorized:
		return "unauthorized"
	case abi.CodeBadRequest, abi.CodeUnsupported, abi.CodeTooLarge:
		return "illegal_argument"
	case abi.CodeNotFound:
		return "service_resource_not_found"
	case abi.CodeRateLimited:
		return "reach_limit"
	case abi.CodeForbidden:
		return "forbidden_op"
	}
	return "internal_server_error"
}

// youduCode follows Youdu's errcode table (vendors.md §3.8).
func youduCode(c abi.Code) int {
	switch c {
	case abi.CodeUnauthorized:
		return 100001
	case abi.CodeBadRequest, abi.CodeUnsupported, abi.CodeTooLarge:
		return 100003
	case abi.CodeForbidden:
		return 3
	}
	return -1
}
