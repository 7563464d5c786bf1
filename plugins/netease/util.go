package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// str views b as a string without copying. Hook inputs stay valid and
// unmodified for the whole call, which is as long as the views live.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// NetEase's documented limits.
const (
	maxAccidLen = 32  // an account id, in characters
	maxTidLen   = 20  // a team id: a decimal int64
	maxBatchV1  = 500 // toAccids of sendBatchMsg.action
	// maxBatchV1ID is toAccids' limit when returnMsgid is true, which the
	// encoder always asks for so that every receiver gets its message id.
	maxBatchV1ID = 100
	// defaultBatch is the receivers per v2 batch call. NetEase does not
	// publish the v2 limit; 100 is v1's limit with message ids, a size
	// any server generation accepts. The route option batch_size raises
	// it up to maxBatchV2.
	defaultBatch = 100
	maxBatchV2   = 500
)

// checkAccid reports why id cannot be a NetEase account, or "" when it
// can. NetEase accounts are at most 32 letters, digits and `_ @ . -`; the
// rule also keeps `|`, `/`, `%` and control characters, which could
// rewrite a conversation id or a path, out of every account the codec
// decodes.
func checkAccid(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > maxAccidLen {
		return "is longer than " + strconv.Itoa(maxAccidLen) + " characters"
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '@', c == '-':
		case c == '.':
			if i+1 < len(id) && id[i+1] == '.' {
				return "contains '..'"
			}
		default:
			return "contains " + describe(c) + ": a NetEase account is letters, digits and _ @ . - only"
		}
	}
	return ""
}

// checkTid reports why id cannot be a NetEase team id (a decimal number).
func checkTid(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > maxTidLen {
		return "is longer than " + strconv.Itoa(maxTidLen) + " digits"
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return "is not a decimal team id"
		}
	}
	return ""
}

// checkSafe reports why id, a recipient or sender the encoder got from
// another dialect, cannot be put in a NetEase conversation id or form, or
// "" when it can. Only what could change the meaning of the request is
// refused; NetEase itself validates the rest.
func checkSafe(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > 128 {
		return "is longer than 128 bytes"
	}
	if !utf8.ValidString(id) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c <= ' ' || c == 0x7f:
			return "contains " + describe(c)
		case c == '|' || c == '/' || c == '\\' || c == '%' || c == '?' || c == '#':
			return "contains " + describe(c)
		case c == '.' && i+1 < len(id) && id[i+1] == '.':
			return "contains '..'"
		}
	}
	return ""
}

func describe(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c < 0x20 || c == 0x7f:
		return "a control character"
	case c >= 0x80:
		return "a non-ASCII character"
	}
	return "'" + string(rune(c)) + "'"
}

const upperHex = "0123456789ABCDEF"

// appendQueryEscape appends s escaped for a form value, as
// application/x-www-form-urlencoded (and Go's url.QueryEscape) writes it:
// letters, digits and `-_.~` stay, a space becomes `+`, every other byte
// `%XX`.
func appendQueryEscape(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		dst = append(dst, s[start:i]...)
		if c == ' ' {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendPathEscape appends s escaped for one path segment: letters,
// digits, `-_.~` and `@` stay, every other byte (`|` included) becomes
// `%XX`, as Go's HTTP client writes the conversation id the official SDK
// puts in the path.
func appendPathEscape(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '@' {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendUnescape appends s with %XX sequences decoded, and `+` as a space
// when plus is set (form values; not paths). ok is false for a malformed
// escape.
func appendUnescape(dst []byte, s string, plus bool) (_ []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		case c == '+' && plus:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

// needsUnescape reports whether s holds an escape to decode.
func needsUnescape(s string, plus bool) bool {
	if plus && strings.IndexByte(s, '+') >= 0 {
		return true
	}
	return strings.IndexByte(s, '%') >= 0
}

// isDigits reports whether s is a non-empty run of ASCII digits that fits
// an int64, so that it can be written as a JSON number.
func isDigits(s string) bool {
	if s == "" || len(s) > 19 || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if len(s) == 19 && s > "9223372036854775807" {
		return false
	}
	return true
}
