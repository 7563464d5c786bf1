package sdk

import (
	"math"
	"strconv"

	"github.com/tidwall/gjson"
)

// JSON is an append-only JSON builder. It inserts commas itself, escapes
// strings (invalid UTF-8 becomes U+FFFD; <, >, &, U+2028 and U+2029 are
// escaped) and reuses its buffer: after the first few calls of a plugin it
// does not allocate.
//
//	out.Object()
//	out.KeyString("kind", "text")
//	out.Key("to").Object().Key("users").Array().String("alice").End().End()
//	out.End()
//
// A value inside an object must follow a Key (or be written with one of the
// Key* and Opt* shorthands). Containers must be closed with End; the SDK
// refuses a hook output with a container left open. Nesting has no fixed
// limit.
//
// The zero value is ready to use.
type JSON struct {
	buf   []byte
	depth int
	// comma bit d is set when the next value at depth d needs a comma
	// before it; arr bit d is set when the container opened at depth d is
	// an array. Depths of 64 and more spill into deep.
	comma, arr uint64
	deep       []byte // flags of depth 64+i: deepComma, deepArray
	// afterKey is set between Key and its value.
	afterKey bool
}

const (
	deepComma = 1 << iota
	deepArray
)

// Reset empties the builder, keeping its buffer.
func (j *JSON) Reset() {
	j.buf, j.depth, j.comma, j.arr, j.deep, j.afterKey = j.buf[:0], 0, 0, 0, j.deep[:0], false
}

// Bytes returns the document built so far. It is valid until the next call
// that changes the builder.
func (j *JSON) Bytes() []byte { return j.buf }

// Len returns the number of bytes written.
func (j *JSON) Len() int { return len(j.buf) }

// Depth returns how many containers are open.
func (j *JSON) Depth() int { return j.depth }

// complete reports whether every container is closed and no key waits for
// its value.
func (j *JSON) complete() bool { return j.depth == 0 && !j.afterKey }

// sep writes the comma a value at the current depth needs, if any.
func (j *JSON) sep() {
	if j.afterKey {
		j.afterKey = false
		return
	}
	if d := j.depth; d < 64 {
		bit := uint64(1) << uint(d)
		if j.comma&bit != 0 {
			j.buf = append(j.buf, ',')
		}
		j.comma |= bit
		return
	}
	f := &j.deep[j.depth-64]
	if *f&deepComma != 0 {
		j.buf = append(j.buf, ',')
	}
	*f |= deepComma
}

func (j *JSON) open(c byte) *JSON {
	j.sep()
	j.buf = append(j.buf, c)
	j.depth++
	if d := j.depth; d < 64 {
		bit := uint64(1) << uint(d)
		j.comma &^= bit
		if c == '[' {
			j.arr |= bit
		} else {
			j.arr &^= bit
		}
		return j
	}
	var f byte
	if c == '[' {
		f = deepArray
	}
	j.deep = append(j.deep, f)
	return j
}

// Object opens an object.
func (j *JSON) Object() *JSON { return j.open('{') }

// Array opens an array.
func (j *JSON) Array() *JSON { return j.open('[') }

// End closes the innermost object or array. At depth 0 it does nothing.
func (j *JSON) End() *JSON {
	if j.depth == 0 {
		return j
	}
	if j.afterKey {
		// A key without a value: finish it so the document stays valid.
		j.afterKey = false
		j.buf = append(j.buf, "null"...)
	}
	var isArr bool
	if d := j.depth; d < 64 {
		isArr = j.arr&(uint64(1)<<uint(d)) != 0
	} else {
		isArr = j.deep[d-64]&deepArray != 0
		j.deep = j.deep[:d-64]
	}
	if isArr {
		j.buf = append(j.buf, ']')
	} else {
		j.buf = append(j.buf, '}')
	}
	j.depth--
	return j
}

// Key writes an object key; the next call writes its value.
func (j *JSON) Key(k string) *JSON {
	j.sep()
	j.buf = appendString(j.buf, k)
	j.buf = append(j.buf, ':')
	j.afterKey = true
	return j
}

// String writes a string value.
func (j *JSON) String(s string) *JSON {
	j.sep()
	j.buf = appendString(j.buf, s)
	return j
}

// StringBytes writes a string value from bytes.
func (j *JSON) StringBytes(b []byte) *JSON {
	j.sep()
	j.buf = appendString(j.buf, bytesToString(b))
	return j
}

// Int writes an integer.
func (j *JSON) Int(v int64) *JSON {
	j.sep()
	j.buf = strconv.AppendInt(j.buf, v, 10)
	return j
}

// Uint writes an unsigned integer.
func (j *JSON) Uint(v uint64) *JSON {
	j.sep()
	j.buf = strconv.AppendUint(j.buf, v, 10)
	return j
}

// Float writes a number the way encoding/json does (exponent form only for
// very large or very small magnitudes). NaN and infinities, which JSON
// cannot carry, are written as null.
func (j *JSON) Float(v float64) *JSON {
	j.sep()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		j.buf = append(j.buf, "null"...)
		return j
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		n := len(j.buf)
		j.buf = strconv.AppendFloat(j.buf, v, 'e', -1, 64)
		// 1e-07 -> 1e-7, as encoding/json writes it.
		if m := len(j.buf); m-n >= 4 && j.buf[m-4] == 'e' && j.buf[m-3] == '-' && j.buf[m-2] == '0' {
			j.buf[m-2] = j.buf[m-1]
			j.buf = j.buf[:m-1]
		}
		return j
	}
	j.buf = strconv.AppendFloat(j.buf, v, 'f', -1, 64)
	return j
}

// Bool writes true or false.
func (j *JSON) Bool(v bool) *JSON {
	j.sep()
	j.buf = strconv.AppendBool(j.buf, v)
	return j
}

// Null writes null.
func (j *JSON) Null() *JSON {
	j.sep()
	j.buf = append(j.buf, "null"...)
	return j
}

// Raw writes an already encoded JSON value as it is. The caller guarantees
// it is one valid JSON value; to copy a value read with gjson from a client
// document, prefer Value, which checks it.
func (j *JSON) Raw(v []byte) *JSON {
	j.sep()
	j.buf = append(j.buf, v...)
	return j
}

// RawString is Raw for a string.
func (j *JSON) RawString(v string) *JSON {
	j.sep()
	j.buf = append(j.buf, v...)
	return j
}

// Value copies a value read with gjson without decoding it (strings keep
// their escapes, numbers their digits), so copying a field or a whole
// object from the input does not allocate. A value that does not exist or
// is not valid JSON (gjson does not validate what it reads) is written as
// null, so the output stays a valid document whatever the client sent.
func (j *JSON) Value(r gjson.Result) *JSON {
	j.sep()
	if !validValue(r.Raw) {
		j.buf = append(j.buf, "null"...)
		return j
	}
	j.buf = append(j.buf, r.Raw...)
	return j
}

// KeyString writes the member "k": v.
func (j *JSON) KeyString(k, v string) *JSON { return j.Key(k).String(v) }

// KeyInt writes the member "k": v.
func (j *JSON) KeyInt(k string, v int64) *JSON { return j.Key(k).Int(v) }

// KeyFloat writes the member "k": v.
func (j *JSON) KeyFloat(k string, v float64) *JSON { return j.Key(k).Float(v) }

// KeyBool writes the member "k": v.
func (j *JSON) KeyBool(k string, v bool) *JSON { return j.Key(k).Bool(v) }

// KeyRaw writes the member "k": v, v being encoded JSON (see Raw).
func (j *JSON) KeyRaw(k string, v []byte) *JSON { return j.Key(k).Raw(v) }

// KeyValue writes the member "k": r, copied as Value does.
func (j *JSON) KeyValue(k string, r gjson.Result) *JSON { return j.Key(k).Value(r) }

// The Opt* methods write a member only when its value is not empty, which
// is what the canonical model asks of encoders ("absent and empty mean the
// same thing").

// OptString writes "k": v unless v is empty.
func (j *JSON) OptString(k, v string) *JSON {
	if v == "" {
		return j
	}
	return j.Key(k).String(v)
}

// OptInt writes "k": v unless v is 0.
func (j *JSON) OptInt(k string, v int64) *JSON {
	if v == 0 {
		return j
	}
	return j.Key(k).Int(v)
}

// OptFloat writes "k": v unless v is 0 (or NaN).
func (j *JSON) OptFloat(k string, v float64) *JSON {
	if v == 0 || math.IsNaN(v) {
		return j
	}
	return j.Key(k).Float(v)
}

// OptBool writes "k": true when v is true, nothing otherwise.
func (j *JSON) OptBool(k string, v bool) *JSON {
	if !v {
		return j
	}
	return j.Key(k).Bool(true)
}

// OptValue writes "k": r (see Value) unless r does not exist or is empty:
// null, "", [] or {}.
func (j *JSON) OptValue(k string, r gjson.Result) *JSON {
	if isEmptyValue(r) {
		return j
	}
	return j.Key(k).Value(r)
}

// isEmptyValue reports whether r is missing, null, "", [] or {}.
func isEmptyValue(r gjson.Result) bool {
	raw := r.Raw
	if raw == "" {
		return true
	}
	switch raw[0] {
	case 'n':
		return r.Type == gjson.Null
	case '"':
		return len(raw) == 2
	case '{', '[':
		for i := 1; i < len(raw); i++ {
			switch raw[i] {
			case ' ', '\t', '\n', '\r':
				continue
			case '}', ']':
				return true
			}
			return false
		}
	}
	return false
}

// validValue reports whether raw is exactly one valid JSON value. Strings,
// numbers and literals, the values copied most, are checked by the short
// loops below; objects and arrays by gjson.Valid.
func validValue(raw string) bool {
	if raw == "" {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		return validString(raw)
	case c == '-' || c >= '0' && c <= '9':
		return validNumber(raw)
	case c == 't':
		return raw == "true"
	case c == 'f':
		return raw == "false"
	case c == 'n':
		return raw == "null"
	case c == '{' || c == '[':
		return gjson.Valid(raw)
	}
	return false
}

// validString reports whether raw is one JSON string: quoted, no control
// characters, only valid escapes. It skips eight bytes at a time while they
// hold none of those (a 10 KB text is most of a request's guest time
// otherwise).
func validString(raw string) bool {
	n := len(raw) - 1
	if n < 1 || raw[0] != '"' || raw[n] != '"' {
		return false
	}
	for i := 1; i < n; i++ {
		for i+8 <= n && quietWord(load64(raw, i)) {
			i += 8
		}
		if i >= n {
			break
		}
		c := raw[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		if c != '\\' || i+1 >= n {
			return false // a control character, a bare quote, or a lone backslash
		}
		i++
		switch raw[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+4 >= n {
				return false
			}
			for _, h := range []byte(raw[i+1 : i+5]) {
				if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
					return false
				}
			}
			i += 4
		default:
			return false
		}
	}
	return true
}

// validNumber reports whether raw is one JSON number:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(raw string) bool {
	i := 0
	if raw[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(raw)
}
