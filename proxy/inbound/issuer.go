package inbound

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// Issuer makes and checks the access tokens the relay hands to its own
// Easemob and Youdu clients. A token is self-contained, so checking one
// needs no shared state and replicas that share the key accept each
// other's tokens:
//
//	token = hex( nonce  (12 random bytes)
//	           | expiry (4 bytes, Unix seconds, big-endian)
//	           | mac    (first 16 bytes of HMAC-SHA256(scopeKey, nonce|expiry)) )
//
// 64 hex characters, the shape of the vendors' own tokens. scopeKey is
// derived from the key and the route's scope, so a token issued for one
// route or client id is refused by every other. Tokens cannot be revoked
// one by one: changing the key revokes them all.
type Issuer struct {
	scopeKey [32]byte
	ttl      time.Duration
	now      func() time.Time
	pool     sync.Pool // *macState
}

// TokenLen is the length of an issued token.
const TokenLen = 64

const (
	tokenRaw = 32
	macLen   = 16
)

type macState struct {
	h   hash.Hash
	in  [16]byte
	sum [sha256.Size]byte
	raw [tokenRaw]byte
}

// Sentinel errors of [Issuer.Check].
var (
	ErrTokenMissing = errors.New("inbound: access token missing")
	ErrTokenInvalid = errors.New("inbound: access token not issued by this relay")
	ErrTokenExpired = errors.New("inbound: access token expired")
)

// NewIssuer returns an issuer for scope. An empty key draws a random one:
// tokens then die with the process.
func NewIssuer(key []byte, scope string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("inbound: token key: %w", err)
		}
	}
	if now == nil {
		now = time.Now
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("imrelay issued token v1\x00"))
	m.Write([]byte(scope))
	is := &Issuer{ttl: ttl, now: now}
	copy(is.scopeKey[:], m.Sum(nil))
	is.pool.New = func() any { return &macState{h: hmac.New(sha256.New, is.scopeKey[:])} }
	return is, nil
}

// TTL returns the lifetime of the tokens the issuer makes.
func (is *Issuer) TTL() time.Duration { return is.ttl }

// Issue returns a new token valid for the issuer's TTL.
func (is *Issuer) Issue() (string, error) {
	m := is.pool.Get().(*macState)
	defer is.pool.Put(m)
	binary.BigEndian.PutUint32(m.raw[12:16], uint32(is.now().Add(is.ttl).Unix()))
	if _, err := rand.Read(m.raw[:12]); err != nil {
		return "", fmt.Errorf("inbound: token nonce: %w", err)
	}
	is.mac(m)
	copy(m.raw[16:], m.sum[:macLen])
	return hex.EncodeToString(m.raw[:]), nil
}

func (is *Issuer) mac(m *macState) {
	copy(m.in[:], m.raw[:16])
	m.h.Reset()
	m.h.Write(m.in[:])
	m.h.Sum(m.sum[:0])
}

// Check verifies a token. The MAC is compared in constant time and before
// the expiry, so a caller without a valid token learns nothing else. It
// does not allocate.
func (is *Issuer) Check(tok []byte) error {
	if len(tok) == 0 {
		return ErrTokenMissing
	}
	if len(tok) != TokenLen {
		return ErrTokenInvalid
	}
	m := is.pool.Get().(*macState)
	defer is.pool.Put(m)
	if _, err := hex.Decode(m.raw[:], tok); err != nil {
		return ErrTokenInvalid
	}
	is.mac(m)
	if subtle.ConstantTimeCompare(m.sum[:macLen], m.raw[16:]) != 1 {
		return ErrTokenInvalid
	}
	if exp := int64(binary.BigEndian.Uint32(m.raw[12:16])); is.now().Unix() >= exp {
		return ErrTokenExpired
	}
	return nil
}
