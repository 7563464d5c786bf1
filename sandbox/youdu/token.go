package youdu

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// tokenStore holds the issued access tokens. Every gettoken call issues a
// new token; earlier ones stay valid until their own expiry (Youdu does not
// say whether a new token revokes the old ones: keeping them is the choice
// that breaks no client that caches a token per process).
type tokenStore struct {
	rand io.Reader

	mu      sync.Mutex
	byToken map[string]tokenEntry
	issued  int
}

type tokenEntry struct {
	appID   string
	expires time.Time
}

// issue stores a new token for appID, valid until expires. Now and then it
// forgets tokens that expired more than ttl ago; until then an expired token
// is still recognised as expired.
func (s *tokenStore) issue(appID string, now, expires time.Time, ttl time.Duration) (string, error) {
	tok, err := auth.NewToken(s.rand)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued++
	if s.issued%64 == 0 {
		for k, v := range s.byToken {
			if !now.Before(v.expires.Add(ttl)) {
				delete(s.byToken, k)
			}
		}
	}
	s.byToken[tok] = tokenEntry{appID: appID, expires: expires}
	return tok, nil
}

// check looks a token up and returns its app. An expired token is answered
// 100002 as long as the store remembers it (at least ttl), then 100001.
func (s *tokenStore) check(tok string, now time.Time) (string, *apiError) {
	if tok == "" {
		return "", errf(CodeMissToken, "empty accessToken")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ent, ok := s.byToken[tok]
	switch {
	case !ok:
		return "", errf(CodeTokenNotExist, "accessToken not exist")
	case !now.Before(ent.expires):
		return "", errf(CodeTokenExpired, "accessToken expired")
	}
	return ent.appID, nil
}

// expire ends a token's life now (the forced-expiry fault).
func (s *tokenStore) expire(tok string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ent, ok := s.byToken[tok]; ok {
		ent.expires = now
		s.byToken[tok] = ent
	}
}

type tokenPayload struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

// getToken serves POST /cgi/gettoken: the envelope's payload is the
// caller's clock in decimal Unix seconds; the answer's encrypt holds
// {"accessToken","expireIn"}, encrypted for the calling app.
func (e *Emulator) getToken(ctx *fasthttp.RequestCtx) *apiError {
	env, aerr := e.openEnvelope(ctx.PostBody())
	if aerr != nil {
		return aerr
	}
	now := e.core.Now()
	ts, err := strconv.ParseInt(string(env.msg), 10, 64)
	if err != nil || ts < 0 {
		return errf(CodeBadRequest, "invalid request: the payload must be the Unix time in seconds")
	}
	if e.skew > 0 {
		if d := now.Unix() - ts; d > int64(e.skew/time.Second) || -d > int64(e.skew/time.Second) {
			return errf(CodeBadRequest, "invalid request: timestamp %d is more than %s from the server's clock", ts, e.skew)
		}
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	tok, err := e.tokens.issue(env.appID, now, now.Add(e.ttl), e.ttl)
	if err != nil {
		return errInternal
	}
	payload, _ := json.Marshal(tokenPayload{AccessToken: tok, ExpireIn: int64(e.ttl / time.Second)})
	enc, err := env.cipher.Encrypt(payload, env.appID)
	if err != nil {
		return errInternal
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, answer{ErrCode: CodeOK, ErrMsg: "ok", Encrypt: enc})
	return nil
}
