package easemob

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Tokens look like the vendor's: "YWMt" and base64url text. The emulator
// issues 64 characters after the prefix and calls anything else corrupt.
const (
	tokenPrefix  = "YWMt"
	tokenBodyLen = 64 // base64url of 48 random bytes
)

// tokenReply is the token endpoint's success answer.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Application string `json:"application"`
}

// token serves POST /{org}/{app}/token (client_credentials only).
func (e *Emulator) token(ctx *fasthttp.RequestCtx) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req == nil {
		if err == nil {
			err = errNotObject
		}
		e.fail(ctx, errJSONParse(err))
		return
	}
	grant, _ := str(req["grant_type"])
	id, idOK := str(req["client_id"])
	secret, secretOK := str(req["client_secret"])
	switch {
	case grant == "":
		e.fail(ctx, errIllegal("grant_type must be provided."))
		return
	case grant != "client_credentials":
		// User tokens (password, inherit) are not emulated.
		e.fail(ctx, apiError{400, "unsupported_grant_type", excIllegalArg, "unsupported grant type: " + grant, 0})
		return
	case !idOK || id == "":
		e.fail(ctx, errIllegal("client_id must be provided."))
		return
	case !secretOK || secret == "":
		e.fail(ctx, errIllegal("client_secret must be provided"))
		return
	case id != e.cfg.ClientID:
		e.fail(ctx, errGrant("client_id does not match"))
		return
	case secret != e.cfg.ClientSecret:
		e.fail(ctx, errGrant("client_secret does not match"))
		return
	}
	ttl, ok := parseTTL(req["ttl"])
	if !ok {
		e.fail(ctx, errIllegal("ttl must be a non-negative integer number of seconds"))
		return
	}
	if ttl < 0 {
		ttl = int64(e.cfg.DefaultTTL / time.Second)
	}
	tok := e.issue(time.Duration(ttl) * time.Second)
	emu.WriteJSON(ctx, fasthttp.StatusOK, tokenReply{AccessToken: tok, ExpiresIn: ttl, Application: e.cfg.Application})
}

// parseTTL reads ttl: absent, null or "" gives -1 (use the default, a
// tolerance for clients that always send "ttl":""); a non-negative integer
// or a string holding one gives its value; anything else is not ok.
func parseTTL(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return -1, true
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		if s = strings.TrimSpace(s); s == "" {
			return -1, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return int64(f), true
}

// issue makes a token living ttl (0: forever).
func (e *Emulator) issue(ttl time.Duration) string {
	var b [48]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	var exp time.Time
	if ttl > 0 {
		exp = e.core.Now().Add(ttl)
	}
	e.tokens.add(tok, exp)
	return tok
}

// IssueToken gives a token as POST /token would, without HTTP; ttl 0
// means it never expires.
func (e *Emulator) IssueToken(ttl time.Duration) string { return e.issue(ttl) }

// authed checks the bearer token, then the forced-expiry fault, before h.
func (e *Emulator) authed(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if ae, ok := e.check(ctx.Request.Header.Peek("Authorization")); !ok {
			e.fail(ctx, ae)
			return
		}
		if e.core.Faults.TakeExpiry() {
			e.fail(ctx, errExpired)
			return
		}
		h(ctx)
	}
}

// check sorts a request's Authorization header into the vendor's three
// 401 answers: missing or expired, corrupt (not a token this server could
// have issued), or unknown (well formed, never issued here).
func (e *Emulator) check(h []byte) (apiError, bool) {
	v := strings.TrimSpace(string(h))
	if v == "" {
		return errExpired, false
	}
	scheme, tok, _ := strings.Cut(v, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") {
		return errCorrupt, false
	}
	if tok == "" {
		return errExpired, false
	}
	if !wellFormed(tok) {
		return errCorrupt, false
	}
	exp, ok := e.tokens.get(tok)
	if !ok {
		return errUnknownToken, false
	}
	if !exp.IsZero() && !e.core.Now().Before(exp) {
		return errExpired, false
	}
	return apiError{}, true
}

func wellFormed(tok string) bool {
	body, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok || len(body) != tokenBodyLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(body)
	return err == nil
}

// tokenStore remembers issued tokens and their expiry (zero: never). It
// holds at most max; the oldest issued token is forgotten first.
type tokenStore struct {
	mu    sync.Mutex
	exp   map[string]time.Time
	order []string // ring of issued tokens, oldest at next once full
	next  int
	max   int
}

func newTokenStore(max int) *tokenStore {
	return &tokenStore{exp: make(map[string]time.Time), max: max}
}

func (s *tokenStore) add(tok string, exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) < s.max {
		s.order = append(s.order, tok)
	} else {
		delete(s.exp, s.order[s.next])
		s.order[s.next] = tok
		s.next = (s.next + 1) % len(s.order)
	}
	s.exp[tok] = exp
}

func (s *tokenStore) get(tok string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.exp[tok]
	return exp, ok
}
