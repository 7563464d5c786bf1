package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
)

// EqualToken reports whether a received token equals the expected one. The
// contents are compared in constant time; the length is not secret (tokens
// issued by one party all have the same length), so tokens of different
// lengths are rejected at once.
func EqualToken(got []byte, want string) bool {
	return equalToken(got, want)
}

// EqualTokenString is EqualToken for a string.
func EqualTokenString(got, want string) bool {
	return equalToken(got, want)
}

func equalToken[G byteString](got G, want string) bool {
	if len(got) != len(want) {
		return false
	}
	var v byte
	for i := 0; i < len(want); i++ {
		v |= got[i] ^ want[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

// NewToken returns 64 lowercase hex characters drawn from 32 bytes of r,
// suitable as a bearer or access token. A nil r means crypto/rand.
func NewToken(r io.Reader) (string, error) {
	return randomHex(r, 32)
}

// NewNonce returns 32 lowercase hex characters drawn from 16 bytes of r, the
// shape of the Nonce the official NetEase SDKs send (a UUID without dashes).
// A nil r means crypto/rand.
func NewNonce(r io.Reader) (string, error) {
	return randomHex(r, 16)
}

func randomHex(r io.Reader, n int) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n, 3*n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return string(hex.AppendEncode(b[n:], b)), nil
}
