package sdk

import (
	"unicode/utf8"
	"unsafe"

	"github.com/imrelay/imrelay/sdk/abi"
)

// appendString appends s as a quoted JSON string, byte for byte what
// abi.AppendJSONString writes, in one pass: eight bytes at a time while
// they need no escaping (printable ASCII except " \ < > &), byte by byte
// around the ones that do, and a rune decode only for non-ASCII runes,
// which validates them on the way. Invalid UTF-8, rare, is written again
// from the start by abi.AppendJSONString, which replaces it. In wasm, where
// Go code runs several times slower than natively, the word-at-a-time scan
// matters most: keys and most values are plain ASCII.
func appendString(dst []byte, s string) []byte {
	mark := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			if c >= 0xE3 && c <= 0xEC && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
				i += 3 // a valid three-byte rune from U+3000 to U+CFFF: CJK text, copied
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				return abi.AppendJSONString(dst[:mark], s)
			case r == '\u2028' || r == '\u2029': // they end a line in JavaScript
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigit[r&0xf])
				start = i + size
			}
			i += size
			continue
		}
		if plain[c] {
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

// load64 reads the eight bytes of s at i (i+8 <= len(s)) as one word in
// the machine's byte order, which the tests below do not depend on.
// Unaligned loads are fine on wasm, amd64 and arm64, where the SDK runs.
func load64(s string, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the eight bytes of x needs escaping or
// decoding: no byte >= 0x80, below 0x20, or one of " & \ < >. The tests
// are the classic "has a zero byte" bit tricks; a false alarm only sends
// the word to the byte-by-byte path.
func plainWord(x uint64) bool {
	special := x&highs |
		(x-0x20*ones)&^x | // a byte below 0x20
		hasZero(x^(0x5c*ones)) | // \
		hasZero((x|0x04*ones)^(0x26*ones)) | // " (0x22) or & (0x26)
		hasZero((x|0x02*ones)^(0x3e*ones)) // < (0x3c) or > (0x3e)
	return special&highs == 0
}

func hasZero(v uint64) uint64 { return (v - ones) &^ v & highs }

// quietWord reports whether none of the eight bytes of x ends or escapes
// inside a JSON string: no byte below 0x20, no " and no \. Bytes from 0x80
// up pass (validString does not judge UTF-8).
func quietWord(x uint64) bool {
	return ((x-0x20*ones)&^x|hasZero(x^(0x22*ones))|hasZero(x^(0x5c*ones)))&highs == 0
}

const hexDigit = "0123456789abcdef"

// plain[c] is true for the ASCII bytes appendString copies as they are:
// printable ASCII except " \ < > &.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&'} {
		t[c] = false
	}
	return t
}()
