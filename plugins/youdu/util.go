package main

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// str views b as a string without copying. Hook inputs stay valid and
// unmodified for the whole call, which is as long as the views live.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Youdu's documented limits.
const (
	maxUsers    = 1000 // toUser, toEmail entries per request
	maxDepts    = 100  // toDept entries per request
	maxArticles = 5    // mpnews, exlink entries
	maxIDLen    = 128  // an account, e-mail or department id, in bytes
)

// checkID reports why id cannot be a Youdu recipient, or "" when it can.
// A recipient is joined into a `|` list, so `|` would inject recipients;
// control characters, path characters and percent signs have no place in
// an account and are refused so that nothing downstream (a log line, a
// NetEase conversation path) can be steered by one.
func checkID(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > maxIDLen {
		return "is longer than " + strconv.Itoa(maxIDLen) + " bytes"
	}
	if !utf8.ValidString(id) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c < 0x20 || c == 0x7f:
			return "contains a control character"
		case c == '|':
			return "contains '|'"
		case c == '/' || c == '\\':
			return "contains a path separator"
		case c == '%':
			return "contains '%'"
		case c == '.' && i+1 < len(id) && id[i+1] == '.':
			return "contains '..'"
		}
	}
	return ""
}

// checkDept reports why id cannot be a Youdu department id: they are
// decimal integers.
func checkDept(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > 19 {
		return "is longer than 19 digits"
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return "is not a decimal department id"
		}
	}
	return ""
}
