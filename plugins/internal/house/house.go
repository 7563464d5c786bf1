// Package house holds what the getsender and opapp codecs share: both are
// in-house services of one company and answer with the same envelope,
//
//	{"code": 200, "message": "成功", "data": ..., "page": null, "foot": {...}}
//
// where code is an HTTP-like status carried in the body.
package house

import (
	"strings"

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

// beijingOffset is the zone of foot.operationTime, the services' own:
// China Standard Time, UTC+8 all year (no daylight saving since 1991).
const beijingOffset = 8 * 3600

// WriteFoot writes the envelope's footer: the answer's time in Beijing, and
// the route's service_phone and host (default "imrelay").
func WriteFoot(b *sdk.JSON, opts []byte) {
	var buf [19]byte
	t := AppendBeijingTime(buf[:0], sdk.NowMillis(opts))
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

// AppendBeijingTime appends the instant ms (Unix milliseconds) as Beijing
// time in the layout "2006-01-02 15:04:05", for years 0 to 9999 (the
// range time.DateTime writes with four digits). It does by arithmetic
// what time.Time.In and AppendFormat do through zone tables and a layout
// parser: in a Go wasm guest those took about a third of encode_response
// for a one-message answer.
func AppendBeijingTime(dst []byte, ms int64) []byte {
	secs := ms/1000 + beijingOffset
	if ms%1000 < 0 {
		secs-- // floor division for instants before 1970
	}
	days, rem := secs/86400, secs%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	y, m, d := civil(days)
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, ' ')
	dst = append2(dst, rem/3600)
	dst = append(dst, ':')
	dst = append2(dst, rem/60%60)
	dst = append(dst, ':')
	return append2(dst, rem%60)
}

// civil turns days since 1970-01-01 into a proleptic Gregorian date
// (Howard Hinnant's days_from_civil, inverted): eras of 400 years, with
// March as the first month so that the leap day ends the year.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], March = 0
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func append4(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
