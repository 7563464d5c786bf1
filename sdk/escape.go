package sdk

import (
	"unicode/utf8"

	"github.com/imrelay/imrelay/sdk/abi"
)

// appendString appends s as a quoted JSON string, byte for byte what
// abi.AppendJSONString writes, with a faster loop for valid UTF-8 (nearly
// every string): one table lookup per byte instead of a chain of
// comparisons and a rune decode per non-ASCII character, which matters
// most in wasm, where Go code runs several times slower than natively.
func appendString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		return abi.AppendJSONString(dst, s)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plain[s[i]] {
			i++
			continue
		}
		c := s[i]
		if c == 0xE2 {
			// U+2028 and U+2029 are E2 80 A8 and E2 80 A9: escaped, as
			// they end a line in JavaScript. Any other rune starting
			// with E2 is copied.
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', "89"[s[i+2]-0xA8])
				i += 3
				start = i
				continue
			}
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
		default: // other control characters, <, >, &
			dst = append(dst, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigit = "0123456789abcdef"

// plain[c] is true for the bytes of valid UTF-8 that appendString copies
// as they are: printable ASCII except " \ < > &, and every byte of a
// multi-byte rune except E2, which may start U+2028 or U+2029.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		t[c] = false
	}
	return t
}()
