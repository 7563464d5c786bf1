// Package house holds what the getsender and opapp codecs share: both are
// in-house services of one company and answer with the same envelope,
//
//	{"code": 200, "message": "成功", "data": ..., "page": null, "foot": {...}}
//
// where code is an HTTP-like status carried in the body.
package house

import (
	"strings"
	"time"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
)

// CodeOf maps an answer's body code to a canonical code. A refused client
// id or token (401) is the relay's configuration problem, so it is upstream.
func CodeOf(code int) abi.Code {
	switch code {
	case 400:
		return abi.CodeBadRequest
	case 413:
		return abi.CodeTooLarge
	case 429:
		return abi.CodeRateLimited
	}
	return abi.CodeUpstream
}

// BodyCode is the body code of a canonical error code.
func BodyCode(code abi.Code) int {
	switch code {
	case abi.CodeBadRequest, abi.CodeUnsupported:
		return 400
	case abi.CodeUnauthorized:
		return 401
	case abi.CodeForbidden:
		return 403
	case abi.CodeNotFound:
		return 404
	case abi.CodeTooLarge:
		return 413
	case abi.CodeRateLimited:
		return 429
	case abi.CodeBusy:
		return 503
	case abi.CodeTimeout:
		return 504
	}
	return 500
}

// WriteMessage writes the envelope's "message": msg, prefixed with the
// field it is about unless msg already names it.
func WriteMessage(b *sdk.JSON, field, msg string) {
	b.Key("message")
	if field == "" || strings.Contains(msg, field) {
		b.String(msg)
		return
	}
	b.String(field + ": " + msg)
}

// beijing is the zone of foot.operationTime: the services' own.
var beijing = time.FixedZone("CST", 8*3600)

// WriteFoot writes the envelope's footer: the answer's time in Beijing, and
// the route's service_phone and host (default "imrelay").
func WriteFoot(b *sdk.JSON, opts []byte) {
	var buf [32]byte
	t := time.UnixMilli(sdk.NowMillis(opts)).In(beijing).AppendFormat(buf[:0], time.DateTime)
	host := sdk.RouteOption(opts, "host")
	if host == "" {
		host = "imrelay"
	}
	b.Key("foot").Object()
	b.Key("operationTime").StringBytes(t)
	b.KeyString("servicePhone", sdk.RouteOption(opts, "service_phone"))
	b.KeyString("host", host)
	b.End()
}
