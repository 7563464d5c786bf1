package abi

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Code is a canonical error code. Guests return it in a GuestError; the host
// uses it for its own failures (auth, limits, transport) too. The inbound
// codec's HookEncodeResponse turns a code into the client dialect's error
// shape, so every dialect answers every failure in its own format.
type Code string

const (
	CodeBadRequest   Code = "bad_request"  // malformed or invalid client input
	CodeUnauthorized Code = "unauthorized" // missing, wrong or expired credentials
	CodeForbidden    Code = "forbidden"    // authenticated but not allowed
	CodeNotFound     Code = "not_found"    // unknown path or object
	CodeTooLarge     Code = "too_large"    // body, list or text over a limit
	CodeUnsupported  Code = "unsupported"  // a kind the target cannot carry (route rejects)
	CodeRateLimited  Code = "rate_limited" // the provider or the relay throttled the call
	CodeBusy         Code = "busy"         // the relay shed load
	CodeTimeout      Code = "timeout"      // no answer in time: delivery unknown
	CodeNotSent      Code = "not_sent"     // the request was never written: not delivered
	CodeUpstream     Code = "upstream"     // the provider answered with an error
	CodeInternal     Code = "internal"     // a bug or a plugin fault
)

// GuestError is the error document a hook returns with ErrorFlag set, and the
// shape of every canonical error:
//
//	{"code":"bad_request","message":"messageType must be 1..10","field":"messageType"}
//
// Field is a path in the client's own terms (`messages[2].msgBody.toUser`),
// empty when the error is not about one field.
type GuestError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *GuestError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// AppendJSON appends e as the JSON document above without reflection.
func (e *GuestError) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = AppendJSONString(dst, string(e.Code))
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, e.Message)
	if e.Field != "" {
		dst = append(dst, `,"field":`...)
		dst = AppendJSONString(dst, e.Field)
	}
	return append(dst, '}')
}

// ParseGuestError decodes an error document. A document that is not one
// (a guest bug) becomes CodeInternal with the reason, never a silent success.
func ParseGuestError(doc []byte) *GuestError {
	var e GuestError
	if err := json.Unmarshal(doc, &e); err != nil || e.Code == "" {
		return &GuestError{Code: CodeInternal, Message: fmt.Sprintf("plugin returned an invalid error document (%d bytes)", len(doc))}
	}
	return &e
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes
// U+FFFD, and characters that could break out of a log line or an HTML
// context are escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
