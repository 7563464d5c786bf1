package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sdk/abi"
)

// neverExpires is the lifetime given to a token the vendor says does not
// expire (Easemob expires_in 0): it is still refreshed once a day.
const neverExpires = 24 * time.Hour

// post sends one token call and returns the status and a copy of the body.
func (p *Provider) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(p.base + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBodyRaw(body)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	if err := p.hc.DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// fetchEasemobToken calls POST /{org}/{app}/token with the client
// credentials.
func (p *Provider) fetchEasemobToken(ctx context.Context) (Token, error) {
	in := map[string]any{"grant_type": "client_credentials", "client_id": p.creds.clientID, "client_secret": p.creds.clientSc}
	if p.creds.tokenTTL > 0 {
		in["ttl"] = int64(p.creds.tokenTTL / time.Second)
	}
	body, _ := json.Marshal(in)
	now := p.now()
	status, out, err := p.post(ctx, "/"+p.creds.org+"/"+p.creds.app+"/token", body)
	if err != nil {
		return Token{}, err
	}
	var r struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(out, &r); err != nil || status != fasthttp.StatusOK || r.AccessToken == "" {
		return Token{}, fmt.Errorf("easemob token call answered HTTP %d %s %s", status, r.Error, r.Description)
	}
	life := time.Duration(r.ExpiresIn) * time.Second
	if r.ExpiresIn <= 0 {
		life = neverExpires
	}
	return Token{Value: r.AccessToken, Expires: now.Add(life)}, nil
}

// fetchYouduToken calls POST /cgi/gettoken with the encrypted time.
func (p *Provider) fetchYouduToken(ctx context.Context) (Token, error) {
	now := p.now()
	env, err := p.youduEnvelope(nil, strconv.AppendInt(nil, now.Unix(), 10))
	if err != nil {
		return Token{}, err
	}
	status, out, err := p.post(ctx, "/cgi/gettoken", env)
	if err != nil {
		return Token{}, err
	}
	var r struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Encrypt string `json:"encrypt"`
	}
	if err := json.Unmarshal(out, &r); err != nil || status != fasthttp.StatusOK || r.ErrCode != 0 || r.Encrypt == "" {
		return Token{}, fmt.Errorf("youdu gettoken answered HTTP %d errcode %d %s", status, r.ErrCode, r.ErrMsg)
	}
	plain, _, err := p.youdu.Decrypt(r.Encrypt)
	if err != nil {
		return Token{}, fmt.Errorf("youdu gettoken answer: %w", err)
	}
	var t struct {
		AccessToken string `json:"accessToken"`
		ExpireIn    int64  `json:"expireIn"`
	}
	if err := json.Unmarshal(plain, &t); err != nil || t.AccessToken == "" {
		return Token{}, fmt.Errorf("youdu gettoken answer has no accessToken")
	}
	life := time.Duration(t.ExpireIn) * time.Second
	if t.ExpireIn <= 0 {
		life = 2 * time.Hour
	}
	return Token{Value: t.AccessToken, Expires: now.Add(life)}, nil
}

// TransportError returns the canonical document for a failure of Do, for
// callers that hand it to a codec as a status-0 answer.
func TransportError(err error) *abi.GuestError {
	if e, ok := err.(*Error); ok {
		return e.GuestError()
	}
	return &abi.GuestError{Code: abi.CodeTimeout, Message: "the provider did not answer; the message may or may not have been delivered"}
}
