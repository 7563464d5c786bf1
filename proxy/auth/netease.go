package auth

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// NetEase Yunxin request authentication.
//
// Every call to the NetEase server API carries four headers: AppKey, Nonce
// (a random string of at most 128 characters), CurTime (Unix seconds as a
// decimal string) and CheckSum = lowercase hex SHA-1 of the UTF-8 bytes of
// AppSecret + Nonce + CurTime, concatenated without separators.

const (
	// CheckSumWindow is how far CurTime may lie from the verifier's clock,
	// in either direction. NetEase documents a checksum as valid for five
	// minutes from CurTime; imrelay also accepts a CurTime up to five minutes
	// in the future, so that a client whose clock runs ahead of the server's
	// is not rejected (NetEase asks for NTP-synced clocks but is silent on
	// skew).
	CheckSumWindow = 5 * time.Minute

	// MaxNonceLen is the longest Nonce NetEase documents.
	MaxNonceLen = 128

	// CheckSumLen is the length of a CheckSum: 40 hex characters.
	CheckSumLen = 2 * sha1.Size
)

// Sentinel errors of [CheckSumVerifier.Verify]. Callers map them to the
// vendor's answer with [errors.Is].
var (
	ErrMissingHeader  = errors.New("auth: netease: missing header")
	ErrUnknownAppKey  = errors.New("auth: netease: unknown AppKey")
	ErrBadNonce       = errors.New("auth: netease: Nonce longer than 128 characters")
	ErrBadCurTime     = errors.New("auth: netease: CurTime is not decimal Unix seconds")
	ErrBadCheckSum    = errors.New("auth: netease: CheckSum does not match")
	ErrCurTimeExpired = errors.New("auth: netease: CurTime is outside the validity window")
)

// byteString is what the checksum functions accept for header values: the
// relay holds fasthttp's []byte views, tests and configs hold strings.
type byteString interface{ ~string | ~[]byte }

// sumCheckSum hashes secret+nonce+curTime. The concatenation is built in a
// stack buffer when it fits (secrets and nonces are short), so the common
// case does not allocate; the buffer is wiped because it holds the secret.
func sumCheckSum[N, T byteString](secret string, nonce N, curTime T) [sha1.Size]byte {
	var stack [256]byte
	var b []byte
	if n := len(secret) + len(nonce) + len(curTime); n <= len(stack) {
		b = stack[:0]
	} else {
		b = make([]byte, 0, n)
	}
	b = append(b, secret...)
	b = append(b, nonce...)
	b = append(b, curTime...)
	sum := sha1.Sum(b)
	clear(b)
	return sum
}

// CheckSum returns the NetEase CheckSum header value for the given AppSecret,
// Nonce and CurTime: 40 lowercase hex characters.
func CheckSum(secret, nonce, curTime string) string {
	var out [CheckSumLen]byte
	sum := sumCheckSum(secret, nonce, curTime)
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// AppendCheckSum appends the CheckSum of secret, nonce and curTime to dst and
// returns the extended buffer. It does not allocate when dst has room for
// [CheckSumLen] more bytes.
func AppendCheckSum(dst []byte, secret, nonce, curTime string) []byte {
	sum := sumCheckSum(secret, nonce, curTime)
	return hex.AppendEncode(dst, sum[:])
}

// CheckSumVerifier checks the four NetEase headers of one request against one
// app's credentials. The zero Window and a nil Now select the defaults. A
// CheckSumVerifier is safe for concurrent use once configured.
type CheckSumVerifier struct {
	AppKey    string
	AppSecret string

	// Window is the largest allowed distance between CurTime and Now, in
	// either direction. Zero means CheckSumWindow. It is counted in whole
	// seconds: a CurTime exactly Window away is still accepted.
	Window time.Duration

	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks one request's header values. Checks run in this order, and
// the first failure is returned: every header present, AppKey known, Nonce
// at most MaxNonceLen bytes, CurTime decimal, CheckSum equal (upper- or
// lowercase hex, compared in constant time), CurTime within Window. The
// checksum is checked before the time so that a caller without the secret
// learns nothing about the server's clock.
//
// Verify does not allocate on success.
func (v *CheckSumVerifier) Verify(appKey, nonce, curTime, checkSum []byte) error {
	return verify(v, appKey, nonce, curTime, checkSum)
}

// VerifyString is Verify for string header values.
func (v *CheckSumVerifier) VerifyString(appKey, nonce, curTime, checkSum string) error {
	return verify(v, appKey, nonce, curTime, checkSum)
}

func verify[S byteString](v *CheckSumVerifier, appKey, nonce, curTime, checkSum S) error {
	switch {
	case len(appKey) == 0:
		return fmt.Errorf("%w: AppKey", ErrMissingHeader)
	case len(nonce) == 0:
		return fmt.Errorf("%w: Nonce", ErrMissingHeader)
	case len(curTime) == 0:
		return fmt.Errorf("%w: CurTime", ErrMissingHeader)
	case len(checkSum) == 0:
		return fmt.Errorf("%w: CheckSum", ErrMissingHeader)
	}
	if string(appKey) != v.AppKey {
		return ErrUnknownAppKey
	}
	if len(nonce) > MaxNonceLen {
		return ErrBadNonce
	}
	sec, ok := parseUnix(curTime)
	if !ok {
		return ErrBadCurTime
	}
	if !equalCheckSum(sumCheckSum(v.AppSecret, nonce, curTime), checkSum) {
		return ErrBadCheckSum
	}
	window := v.Window
	if window == 0 {
		window = CheckSumWindow
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	limit := int64(window / time.Second)
	if d := now().Unix() - sec; d > limit || d < -limit {
		return ErrCurTimeExpired
	}
	return nil
}

// equalCheckSum compares the expected digest with a received hex string,
// accepting either case. Only the length is compared in variable time.
func equalCheckSum[S byteString](sum [sha1.Size]byte, got S) bool {
	if len(got) != CheckSumLen {
		return false
	}
	var want, lower [CheckSumLen]byte
	hex.Encode(want[:], sum[:])
	for i := range lower {
		c := got[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return subtle.ConstantTimeCompare(want[:], lower[:]) == 1
}

// parseUnix parses a CurTime: 1 to 18 decimal digits, nothing else.
func parseUnix[S byteString](s S) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
