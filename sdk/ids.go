package sdk

import "unicode/utf8"

// IDProblem says why id cannot be a user, group or room id, or "" when it
// can. Ids travel into other vendors' URL paths (a NetEase conversation id
// is "from|type|to"), into '|'-joined Youdu lists and into log lines, so a
// decoder refuses, where the client can be told, what could change their
// meaning there: '|', path separators, '%', '..', '?', '#', spaces and
// control characters, bytes that are not UTF-8, and more than 128 bytes.
// Dialects with stricter account rules check those on top.
func IDProblem(id string) string {
	if len(id) > 128 {
		return "is longer than 128 bytes"
	}
	if !utf8.ValidString(id) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c < 0x20 || c == 0x7f:
			return "contains a control character"
		case c == ' ':
			return "contains a space"
		case c == '|', c == '/', c == '\\', c == '%', c == '?', c == '#':
			return "contains '" + string(rune(c)) + "'"
		case c == '.' && i+1 < len(id) && id[i+1] == '.':
			return "contains '..'"
		}
	}
	return ""
}
