package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Youdu envelope encryption.
//
// Plaintext layout, before padding:
//
//	+-----------------+--------------------+-----------+-----------------+
//	| R: 16 bytes     | L: uint32, big-    | message   | appId (ASCII,   |
//	| random, ignored | endian = len(msg)  | (L bytes) | no terminator)  |
//	+-----------------+--------------------+-----------+-----------------+
//
// followed by n bytes of value n, n = 32 - len%32 (1..32), then AES-256-CBC
// with IV = key[:16] and no further padding, then standard Base64.

const (
	// YouduKeyLen is the size of the AES key an EncodingAESKey decodes to.
	YouduKeyLen = 32

	youduPrefixLen = 16                 // random prefix R
	youduHeaderLen = youduPrefixLen + 4 // R and the length L
	youduPadBlock  = 32                 // the padding block, not the AES block
)

// Sentinel errors of the Youdu envelope. Every decryption failure wraps
// exactly one of them. A server must not tell its clients which one it hit
// (Youdu answers errcode 100006 for all): distinct answers would hand them a
// padding oracle.
var (
	ErrBadKey         = errors.New("auth: youdu: bad EncodingAESKey")
	ErrBadBase64      = errors.New("auth: youdu: ciphertext is not valid standard Base64")
	ErrBadCipherLen   = errors.New("auth: youdu: ciphertext length is not a positive multiple of 16 bytes")
	ErrBadPadding     = errors.New("auth: youdu: bad padding")
	ErrBadMsgLen      = errors.New("auth: youdu: message length field exceeds the plaintext")
	ErrMsgTooLong     = errors.New("auth: youdu: message longer than 4 GiB")
	ErrRandomPrefix   = errors.New("auth: youdu: reading the random prefix")
	errNilYouduCipher = errors.New("auth: youdu: nil cipher")
)

// YouduCipher encrypts and decrypts Youdu envelopes for one EncodingAESKey.
// It caches the AES block, so one YouduCipher per key serves every request;
// it is safe for concurrent use.
type YouduCipher struct {
	block cipher.Block
	iv    [aes.BlockSize]byte
	rand  io.Reader
}

// NewYouduCipher parses an EncodingAESKey: standard Base64 of 32 bytes,
// normally 44 characters ending in one '='. The 43-character form without
// the '=' is accepted too.
func NewYouduCipher(encodingAESKey string) (*YouduCipher, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey)
	if err != nil {
		var rawErr error
		if key, rawErr = base64.RawStdEncoding.DecodeString(encodingAESKey); rawErr != nil {
			return nil, fmt.Errorf("%w: not standard Base64: %v", ErrBadKey, err)
		}
	}
	if len(key) != YouduKeyLen {
		return nil, fmt.Errorf("%w: decodes to %d bytes, want %d (44 Base64 characters)", ErrBadKey, len(key), YouduKeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	c := &YouduCipher{block: block, rand: rand.Reader}
	copy(c.iv[:], key)
	clear(key)
	return c, nil
}

// WithRand returns a copy of c that draws the 16-byte random prefix from r
// instead of crypto/rand (nil means crypto/rand). Tests use it to reproduce
// known ciphertexts; the copy shares c's AES block.
func (c *YouduCipher) WithRand(r io.Reader) *YouduCipher {
	if r == nil {
		r = rand.Reader
	}
	d := *c
	d.rand = r
	return &d
}

// EnvelopeLen returns the length of the Base64 text that encrypting a message
// of msgLen bytes for an appId of appIDLen bytes produces.
func EnvelopeLen(msgLen, appIDLen int) int {
	return base64.StdEncoding.EncodedLen(paddedLen(msgLen, appIDLen))
}

func paddedLen(msgLen, appIDLen int) int {
	n := youduHeaderLen + msgLen + appIDLen
	return n + youduPadBlock - n%youduPadBlock
}

// Encrypt returns the Base64 envelope of msg for appID.
func (c *YouduCipher) Encrypt(msg []byte, appID string) (string, error) {
	b, err := c.AppendEncrypt(nil, msg, appID)
	return string(b), err
}

// AppendEncrypt appends the Base64 envelope of msg for appID to dst and
// returns the extended buffer. It uses the spare capacity of dst beyond the
// envelope as scratch space (wiped before returning), so with a reused
// buffer of capacity len(dst) + EnvelopeLen + the padded plaintext length it
// does not allocate. msg must not overlap the spare capacity of dst.
func (c *YouduCipher) AppendEncrypt(dst, msg []byte, appID string) ([]byte, error) {
	if c == nil {
		return dst, errNilYouduCipher
	}
	if uint64(len(msg)) > math.MaxUint32 {
		return dst, ErrMsgTooLong
	}
	plainLen := youduHeaderLen + len(msg) + len(appID)
	total := paddedLen(len(msg), len(appID))
	encLen := base64.StdEncoding.EncodedLen(total)

	start := len(dst)
	dst = slices.Grow(dst, encLen+total)
	buf := dst[start+encLen : start+encLen+total]
	if _, err := io.ReadFull(c.rand, buf[:youduPrefixLen]); err != nil {
		return dst[:start], fmt.Errorf("%w: %w", ErrRandomPrefix, err)
	}
	binary.BigEndian.PutUint32(buf[youduPrefixLen:], uint32(len(msg)))
	copy(buf[youduHeaderLen:], msg)
	copy(buf[youduHeaderLen+len(msg):], appID)
	pad := byte(total - plainLen)
	for i := plainLen; i < total; i++ {
		buf[i] = pad
	}
	c.encryptCBC(buf)
	base64.StdEncoding.Encode(dst[start:start+encLen], buf)
	clear(buf)
	return dst[:start+encLen], nil
}

// Decrypt opens a Base64 envelope and returns the message and the appId that
// trails it; the caller decides whether that appId is acceptable. The random
// prefix is never checked, so clients that encrypt with a random IV (which
// only garbles the prefix) are understood.
func (c *YouduCipher) Decrypt(b64 string) (msg []byte, appID string, err error) {
	out, app, err := c.AppendDecrypt(nil, []byte(b64))
	if err != nil {
		return nil, "", err
	}
	return out, string(app), nil
}

// AppendDecrypt opens a Base64 envelope, appends the message to dst and
// returns the extended buffer. appID is the trailing appId; it aliases the
// spare capacity of msg, so read or copy it before appending to msg again.
// The spare capacity of dst is used as scratch space: with a reused buffer of
// capacity len(dst) + 3/4 len(b64) it does not allocate.
//
// Every error wraps one of ErrBadBase64, ErrBadCipherLen, ErrBadPadding or
// ErrBadMsgLen.
func (c *YouduCipher) AppendDecrypt(dst, b64 []byte) (msg, appID []byte, err error) {
	if c == nil {
		return dst, nil, errNilYouduCipher
	}
	start := len(dst)
	dst = slices.Grow(dst, base64.StdEncoding.DecodedLen(len(b64)))
	buf := dst[start:cap(dst)]
	n, err := base64.StdEncoding.Decode(buf, b64)
	if err != nil {
		clear(buf[:n])
		return dst[:start], nil, fmt.Errorf("%w: %w", ErrBadBase64, err)
	}
	buf = buf[:n]
	if n == 0 || n%aes.BlockSize != 0 {
		clear(buf)
		return dst[:start], nil, fmt.Errorf("%w: got %d", ErrBadCipherLen, n)
	}
	c.decryptCBC(buf)
	body, err := unpad(buf)
	if err != nil {
		clear(buf)
		return dst[:start], nil, err
	}
	if len(body) < youduHeaderLen {
		clear(buf)
		return dst[:start], nil, fmt.Errorf("%w: plaintext of %d bytes has no length field", ErrBadMsgLen, len(body))
	}
	l := binary.BigEndian.Uint32(body[youduPrefixLen:])
	rest := len(body) - youduHeaderLen
	if uint64(l) > uint64(rest) {
		clear(buf)
		return dst[:start], nil, fmt.Errorf("%w: L = %d, %d bytes follow", ErrBadMsgLen, l, rest)
	}
	// Move message and appId down to the end of dst, then wipe the rest.
	copy(buf, body[youduHeaderLen:])
	clear(buf[rest:])
	end := start + int(l)
	return dst[:end], dst[end : start+rest : start+rest], nil
}

// unpad strips the 1..32 bytes of padding, each equal to the pad length.
func unpad(b []byte) ([]byte, error) {
	p := int(b[len(b)-1])
	if p < 1 || p > youduPadBlock || p > len(b) {
		return nil, fmt.Errorf("%w: last byte %d, want 1..%d", ErrBadPadding, p, youduPadBlock)
	}
	var diff byte
	for _, x := range b[len(b)-p:] {
		diff |= x ^ byte(p)
	}
	if subtle.ConstantTimeByteEq(diff, 0) != 1 {
		return nil, fmt.Errorf("%w: the last %d bytes are not all %d", ErrBadPadding, p, p)
	}
	return b[:len(b)-p], nil
}

// encryptCBC encrypts b in place in CBC mode with IV = key[:16]. Doing the
// chaining here over the cached block avoids the per-call allocation of a
// cipher.BlockMode.
func (c *YouduCipher) encryptCBC(b []byte) {
	prev := c.iv[:]
	for i := 0; i < len(b); i += aes.BlockSize {
		blk := b[i : i+aes.BlockSize]
		subtle.XORBytes(blk, blk, prev)
		c.block.Encrypt(blk, blk)
		prev = blk
	}
}

// decryptCBC decrypts b in place, from the last block to the first so that
// each block's predecessor is still ciphertext when it is needed.
func (c *YouduCipher) decryptCBC(b []byte) {
	for i := len(b) - aes.BlockSize; i >= 0; i -= aes.BlockSize {
		blk := b[i : i+aes.BlockSize]
		c.block.Decrypt(blk, blk)
		if i == 0 {
			subtle.XORBytes(blk, blk, c.iv[:])
		} else {
			subtle.XORBytes(blk, blk, b[i-aes.BlockSize:i])
		}
	}
}

// NewEncodingAESKey returns a fresh EncodingAESKey (Base64 of 32 bytes drawn
// from r). A nil r means crypto/rand.
func NewEncodingAESKey(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var key [YouduKeyLen]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return "", fmt.Errorf("auth: youdu: reading a key: %w", err)
	}
	s := base64.StdEncoding.EncodeToString(key[:])
	clear(key[:])
	return s, nil
}
