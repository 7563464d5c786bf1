package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A frame is how the host and a guest pass several byte strings in one
// buffer. All integers are little-endian uint32:
//
//	+-------+--------+---------+--------+---------+-----+
//	| count | len[0] | data[0] | len[1] | data[1] | ... |
//	+-------+--------+---------+--------+---------+-----+
//	   4B      4B     len[0]B     4B     len[1]B
//
// A field may itself be a frame (the provider requests of HookEncodeRequest,
// the answers of HookDecodeResponse). Builders append to a caller's buffer
// and readers return views into the frame, so neither side allocates.

// ErrFrame is returned for a frame that is truncated or whose count or
// lengths do not fit its size.
var ErrFrame = errors.New("abi: malformed frame")

// AppendFrame starts a frame of count fields at the end of dst.
func AppendFrame(dst []byte, count int) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(count))
}

// AppendField appends one field to a frame started with AppendFrame.
func AppendField(dst, field []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(field)))
	return append(dst, field...)
}

// AppendFieldString is AppendField for a string.
func AppendFieldString(dst []byte, field string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(field)))
	return append(dst, field...)
}

// BeginField reserves a length prefix for a field whose bytes the caller is
// about to append (a nested frame, a JSON document built in place). Call
// EndField with the returned mark once the field is complete.
func BeginField(dst []byte) (out []byte, mark int) {
	mark = len(dst)
	return append(dst, 0, 0, 0, 0), mark
}

// EndField writes the length of the field begun at mark.
func EndField(dst []byte, mark int) []byte {
	binary.LittleEndian.PutUint32(dst[mark:], uint32(len(dst)-mark-4))
	return dst
}

// Count returns the number of fields the frame declares.
func Count(frame []byte) (int, error) {
	if len(frame) < 4 {
		return 0, ErrFrame
	}
	return int(binary.LittleEndian.Uint32(frame)), nil
}

// Split appends a view of each field of frame to dst and returns it. With a
// dst of enough capacity it does not allocate. It checks every length.
func Split(frame []byte, dst [][]byte) ([][]byte, error) {
	n, err := Count(frame)
	if err != nil {
		return dst, err
	}
	rest := frame[4:]
	// Each field needs at least its 4-byte length: reject absurd counts
	// before looping.
	if n > len(rest)/4 {
		return dst, fmt.Errorf("%w: count %d for %d bytes", ErrFrame, n, len(frame))
	}
	for i := 0; i < n; i++ {
		if len(rest) < 4 {
			return dst, fmt.Errorf("%w: field %d: missing length", ErrFrame, i)
		}
		l := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return dst, fmt.Errorf("%w: field %d: length %d exceeds %d remaining bytes", ErrFrame, i, l, len(rest))
		}
		dst = append(dst, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return dst, fmt.Errorf("%w: %d trailing bytes", ErrFrame, len(rest))
	}
	return dst, nil
}

// Field returns field i of frame without splitting the rest.
func Field(frame []byte, i int) ([]byte, error) {
	n, err := Count(frame)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= n {
		return nil, fmt.Errorf("%w: field %d of %d", ErrFrame, i, n)
	}
	rest := frame[4:]
	for j := 0; ; j++ {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: field %d: missing length", ErrFrame, j)
		}
		l := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: field %d: length %d exceeds %d remaining bytes", ErrFrame, j, l, len(rest))
		}
		if j == i {
			return rest[:l:l], nil
		}
		rest = rest[l:]
	}
}
