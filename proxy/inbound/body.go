package inbound

import (
	"encoding/hex"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/imrelay/imrelay/sdk/abi"
)

// MaxDepth is the deepest nesting of arrays and objects a client body may
// have. No IM message needs more than a handful of levels; a body of a
// million brackets costs seconds of parsing in a plugin, so it is refused
// here, natively, before any plugin sees it.
const MaxDepth = 64

// Body failures, checked after authentication.
var (
	ErrBodyUTF8  = &abi.GuestError{Code: abi.CodeBadRequest, Message: "request body is not valid UTF-8"}
	ErrBodyDepth = &abi.GuestError{Code: abi.CodeBadRequest, Message: "request body nests arrays and objects deeper than 64 levels"}

	ErrNeteaseReplay = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "Nonce and CheckSum already used: send a new Nonce with each request"}
	ErrReplayFull    = &abi.GuestError{Code: abi.CodeBusy, Message: "too many requests in the CurTime window; try again later"}
)

// CheckBody refuses a body that is not UTF-8 or nests deeper than
// MaxDepth. It reads the body once and does not allocate. Brackets inside
// JSON strings do not count; a body that is not JSON (a form) has its
// brackets percent-encoded, so it passes unless it holds raw ones.
func CheckBody(body []byte) *abi.GuestError {
	if !utf8.Valid(body) {
		return ErrBodyUTF8
	}
	depth := 0
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > MaxDepth {
				return ErrBodyDepth
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// replayLimit bounds the checksums remembered at once (about 64 MiB at
// most). When every remembered checksum is still inside its window the
// relay answers busy rather than forget one: forgetting would let it be
// replayed.
const replayLimit = 1 << 20

// replays remembers every NetEase CheckSum accepted within its CurTime
// window, for all routes of the process: a CheckSum covers the secret, so
// two routes that share an app's secret also share its nonces.
var replays = replayCache{seen: map[[20]byte]int64{}}

type replayCache struct {
	mu   sync.Mutex
	seen map[[20]byte]int64 // checksum → Unix second after which CurTime is refused anyway
}

// first records sum (a verified CheckSum: 40 hex digits) and reports
// whether this is its first use. Entries are forgotten once their CurTime
// has left the window, when the cache is full.
func (c *replayCache) first(sum, curTime []byte, window time.Duration, now time.Time) *abi.GuestError {
	var key [20]byte
	if _, err := hex.Decode(key[:], sum); err != nil || len(sum) != 40 {
		return ErrNeteaseCheckSum
	}
	var sec int64
	for _, d := range curTime {
		sec = sec*10 + int64(d-'0') // verified decimal by the CheckSum check
	}
	until := sec + int64(window/time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[key]; ok {
		return ErrNeteaseReplay
	}
	if len(c.seen) >= replayLimit {
		n := now.Unix()
		for k, u := range c.seen {
			if u < n {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= replayLimit {
			return ErrReplayFull
		}
	}
	c.seen[key] = until
	return nil
}
