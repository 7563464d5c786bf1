// Package upstream sends provider requests: one fasthttp client per
// provider, the provider's credentials applied by the host (never by a
// plugin), tokens cached by a [Broker], and every failure classified so
// that the relay never reports as sent a message it cannot prove was
// accepted.
//
// Credentials, per dialect:
//
//   - netease: the headers AppKey, Nonce, CurTime and CheckSum on every
//     request (a fresh nonce and checksum each time);
//   - youdu: the codec's plaintext body is wrapped in the AES envelope
//     {"buin","appId","encrypt"} and `accessToken` is added to the query;
//     an `encrypt` field in the answer is decrypted and its plaintext JSON
//     put in its place, so the codec reads plaintext only;
//   - easemob: `Authorization: Bearer <token>`;
//   - getsender: `client` and `token` in the query; opapp: `client` and
//     `channel` (its secret); both with `sign` when configured and any
//     extra non-secret parameters.
//
// Tokens (Easemob, Youdu) come from the [Broker]. When the vendor answers
// that a token expired (Easemob HTTP 401, Youdu errcode 100001/100002) the
// token is dropped and the request sent once more with a new one: the
// vendor refused the first one, so no duplicate can result.
//
// Transport failures are an [*Error] with a canonical code: CodeNotSent
// when the request was provably never written (the connection was refused,
// no connection was free, no token could be had) — such a request is
// retried once; CodeTimeout for everything else, which means delivery is
// unknown and the request is not retried.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Request is one provider request as the target codec encoded it. Path and
// Query are already percent-encoded; Path is appended to the provider's
// base URL.
type Request struct {
	Method      []byte
	Path        []byte
	Query       []byte
	ContentType []byte
	Body        []byte
}

// Answer is a provider's answer. Its buffers are reused across calls: Do
// appends to ContentType[:0] and Body[:0].
type Answer struct {
	Status      int
	ContentType []byte
	Body        []byte
}

// Reset empties the answer, keeping its buffers.
func (a *Answer) Reset() {
	a.Status = 0
	a.ContentType = a.ContentType[:0]
	a.Body = a.Body[:0]
}

// Error is a request that got no usable answer.
type Error struct {
	// Code is abi.CodeNotSent when the request was never written (nothing
	// was delivered) and abi.CodeTimeout when delivery is unknown.
	Code     abi.Code
	Provider string
	Err      error
}

func (e *Error) Error() string {
	what := "delivery unknown"
	if e.Code == abi.CodeNotSent {
		what = "not sent"
	}
	return "upstream: " + e.Provider + ": " + what + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// GuestError returns the canonical error document of the failure, without
// the provider's internals.
func (e *Error) GuestError() *abi.GuestError {
	msg := "the provider did not answer in time; the message may or may not have been delivered"
	if e.Code == abi.CodeNotSent {
		msg = "the provider could not be reached; the message was not sent"
		if errors.Is(e.Err, ErrToken) {
			msg = "no access token could be obtained from the provider; the message was not sent"
		}
	}
	return &abi.GuestError{Code: e.Code, Message: msg}
}

// Options are what a [Provider] takes from outside its configuration.
type Options struct {
	// Broker caches tokens; nil gives the provider a broker of its own.
	Broker *Broker
	// Now is the clock for NetEase CurTime and Youdu token requests; nil
	// means time.Now.
	Now func() time.Time
	// Dial replaces the TCP dialer (tests); nil means fasthttp's.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
}

// Provider sends requests to one vendor account.
type Provider struct {
	name    string
	dialect string
	hc      *fasthttp.HostClient
	base    string // scheme://host[:port][/prefix], no trailing slash
	sem     chan struct{}
	ahead   time.Duration
	broker  *Broker
	now     func() time.Time
	creds   creds
	youdu   *auth.YouduCipher
	fetchFn FetchFunc
}

// creds are the provider's resolved credentials.
type creds struct {
	appKey, appSecret            string
	org, app, clientID, clientSc string
	tokenTTL                     time.Duration
	buin                         string // decimal
	appID                        string
	query                        []byte // getsender/opapp credentials and extras, escaped, no leading '&'
}

// New returns the provider described by p (a validated configuration).
func New(p *config.Provider, opt Options) (*Provider, error) {
	u, err := url.Parse(p.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("upstream: %s: base_url: %w", p.Name, err)
	}
	addr := u.Host
	isTLS := u.Scheme == "https"
	if u.Port() == "" {
		addr = fasthttp.AddMissingPort(addr, isTLS)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Broker == nil {
		opt.Broker = NewBroker(BrokerConfig{Now: opt.Now})
	}
	pr := &Provider{
		name:    p.Name,
		dialect: p.Dialect,
		base:    strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		sem:     make(chan struct{}, max(1, p.Concurrency)),
		ahead:   p.TokenRefreshAhead,
		broker:  opt.Broker,
		now:     opt.Now,
	}
	c := &p.Credentials
	pr.creds = creds{
		appKey: c.AppKey, appSecret: c.AppSecret.Value(),
		org: c.Org, app: c.App, clientID: c.ClientID, clientSc: c.ClientSecret.Value(), tokenTTL: c.TokenTTL,
		buin: strconv.FormatInt(c.Buin, 10), appID: c.AppID,
	}
	switch p.Dialect {
	case config.Youdu:
		if pr.youdu, err = auth.NewYouduCipher(c.AESKey.Value()); err != nil {
			return nil, fmt.Errorf("upstream: %s: aes_key: %w", p.Name, err)
		}
		pr.fetchFn = pr.fetchYouduToken
	case config.Easemob:
		pr.fetchFn = pr.fetchEasemobToken
	case config.Getsender, config.Opapp:
		pr.creds.query = credentialQuery(p.Dialect, c)
	}
	connect := p.ConnectTimeout
	dial := opt.Dial
	if dial == nil {
		dial = fasthttp.DialTimeout
	}
	pr.hc = &fasthttp.HostClient{
		Addr:                   addr,
		IsTLS:                  isTLS,
		Name:                   "imrelay",
		MaxConns:               p.MaxConns,
		ReadTimeout:            p.ReadTimeout,
		WriteTimeout:           p.WriteTimeout,
		MaxIdleConnDuration:    30 * time.Second,
		MaxResponseBodySize:    16 << 20,
		DisablePathNormalizing: true,
		// The relay decides about retries itself (see Do): never resend a
		// request that may have been written.
		RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if timeout <= 0 || timeout > connect {
				timeout = connect
			}
			conn, err := dial(addr, timeout)
			if err != nil {
				return nil, &dialError{err}
			}
			return conn, nil
		},
	}
	return pr, nil
}

// credentialQuery builds the getsender/opapp credential parameters.
func credentialQuery(dialect string, c *config.Credentials) []byte {
	var q []byte
	add := func(k, v string) {
		if len(q) > 0 {
			q = append(q, '&')
		}
		q = append(q, url.QueryEscape(k)...)
		q = append(q, '=')
		q = append(q, url.QueryEscape(v)...)
	}
	keys := make([]string, 0, len(c.Query))
	for k := range c.Query {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		add(k, c.Query[k])
	}
	add("client", c.Client)
	if dialect == config.Opapp {
		add("channel", c.Token.Value())
	} else {
		add("token", c.Token.Value())
	}
	if s := c.Sign.Value(); s != "" {
		add("sign", s)
	}
	return q
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Dialect returns the provider's dialect.
func (p *Provider) Dialect() string { return p.dialect }

// Close drops the provider's idle connections.
func (p *Provider) Close() { p.hc.CloseIdleConnections() }

// dialError marks an error from connecting: the request was not written.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// scratch holds one call's buffers.
type scratch struct {
	uri  []byte
	body []byte
	tmp  []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Do sends r and fills a with the answer. deadline bounds the whole call
// (token, connection wait, request); ctx bounds waiting for a slot under
// the provider's concurrency limit and for a token. A returned error is an
// [*Error]: a has no answer then.
func (p *Provider) Do(ctx context.Context, deadline time.Time, r *Request, a *Answer) error {
	a.Reset()
	select {
	case p.sem <- struct{}{}:
	default:
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return &Error{Code: abi.CodeNotSent, Provider: p.name, Err: fmt.Errorf("waiting for a free slot: %w", context.Cause(ctx))}
		}
	}
	defer func() { <-p.sem }()

	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	var err error
	if p.dialect == config.Youdu {
		if s.body, err = p.youduEnvelope(s.body[:0], r.Body); err != nil {
			return &Error{Code: abi.CodeNotSent, Provider: p.name, Err: err}
		}
	}
	tokenRetried, connRetried := false, false
	for {
		tok := ""
		if p.fetchFn != nil {
			if tok, err = p.broker.Get(ctx, p.name, p.ahead, p.fetchFn); err != nil {
				return &Error{Code: abi.CodeNotSent, Provider: p.name, Err: err}
			}
		}
		p.build(req, s, r, tok)
		err = p.hc.DoDeadline(req, resp, deadline)
		if err != nil {
			if notWritten(err) {
				if !connRetried && time.Now().Before(deadline) {
					connRetried = true
					continue
				}
				return &Error{Code: abi.CodeNotSent, Provider: p.name, Err: err}
			}
			return &Error{Code: abi.CodeTimeout, Provider: p.name, Err: err}
		}
		if tok != "" && !tokenRetried && p.tokenExpired(resp) {
			p.broker.Drop(p.name, tok)
			tokenRetried = true
			continue
		}
		break
	}
	a.Status = resp.StatusCode()
	a.ContentType = append(a.ContentType, resp.Header.ContentType()...)
	body := resp.Body()
	if p.dialect == config.Youdu {
		a.Body, err = p.openAnswer(a.Body, body, s)
		if err != nil {
			// The vendor answered, but its envelope cannot be read: hand
			// the answer over as it came; the codec will not find success
			// in it.
			a.Body = append(a.Body[:0], body...)
		}
		return nil
	}
	a.Body = append(a.Body, body...)
	return nil
}

// notWritten reports whether err proves the request never left.
func notWritten(err error) bool {
	var d *dialError
	return errors.As(err, &d) || errors.Is(err, fasthttp.ErrNoFreeConns)
}

// build fills req for one attempt.
func (p *Provider) build(req *fasthttp.Request, s *scratch, r *Request, tok string) {
	req.Reset()
	u := append(s.uri[:0], p.base...)
	u = append(u, r.Path...)
	q := len(u)
	u = append(u, '?')
	if len(r.Query) > 0 {
		u = append(u, r.Query...)
	}
	switch p.dialect {
	case config.Youdu:
		if len(u) > q+1 {
			u = append(u, '&')
		}
		u = append(u, "accessToken="...)
		u = appendQueryEscape(u, tok)
	case config.Getsender, config.Opapp:
		if len(u) > q+1 {
			u = append(u, '&')
		}
		u = append(u, p.creds.query...)
	}
	if len(u) == q+1 {
		u = u[:q]
	}
	s.uri = u
	req.SetRequestURIBytes(u)
	if len(r.Method) > 0 {
		req.Header.SetMethodBytes(r.Method)
	} else {
		req.Header.SetMethod(fasthttp.MethodPost)
	}
	switch {
	case len(r.ContentType) > 0:
		req.Header.SetContentTypeBytes(r.ContentType)
	case p.dialect == config.Youdu:
		req.Header.SetContentType("application/json")
	}
	if p.dialect == config.Youdu {
		req.SetBodyRaw(s.body)
	} else {
		req.SetBodyRaw(r.Body)
	}
	switch p.dialect {
	case config.Netease:
		p.signNetease(req, s)
	case config.Easemob:
		s.tmp = append(append(s.tmp[:0], "Bearer "...), tok...)
		req.Header.SetBytesV("Authorization", s.tmp)
		req.Header.Set("Accept", "application/json")
	}
}

// signNetease sets the four NetEase headers.
func (p *Provider) signNetease(req *fasthttp.Request, s *scratch) {
	t := s.tmp[:0]
	t = strconv.AppendInt(t, p.now().Unix(), 10)
	nonceAt := len(t)
	t = appendNonce(t)
	sumAt := len(t)
	t = auth.AppendCheckSum(t, p.creds.appSecret, unsafeString(t[nonceAt:sumAt]), unsafeString(t[:nonceAt]))
	s.tmp = t
	req.Header.Set("AppKey", p.creds.appKey)
	req.Header.SetBytesV("Nonce", t[nonceAt:sumAt])
	req.Header.SetBytesV("CurTime", t[:nonceAt])
	req.Header.SetBytesV("CheckSum", t[sumAt:])
}

// appendNonce appends 32 random hex characters. The nonce only has to be
// unique (the secret is in the checksum), so the runtime's fast generator
// serves.
func appendNonce(dst []byte) []byte {
	const hexd = "0123456789abcdef"
	for i := 0; i < 2; i++ {
		v := rand.Uint64()
		for j := 0; j < 16; j++ {
			dst = append(dst, hexd[v&0xf])
			v >>= 4
		}
	}
	return dst
}

// youduEnvelope wraps a plaintext body in {"buin","appId","encrypt"}.
func (p *Provider) youduEnvelope(dst, msg []byte) ([]byte, error) {
	dst = append(dst, `{"buin":`...)
	dst = append(dst, p.creds.buin...)
	dst = append(dst, `,"appId":`...)
	dst = abi.AppendJSONString(dst, p.creds.appID)
	dst = append(dst, `,"encrypt":"`...)
	var err error
	dst, err = p.youdu.AppendEncrypt(dst, msg, p.creds.appID)
	if err != nil {
		return dst, fmt.Errorf("youdu envelope: %w", err)
	}
	return append(dst, `"}`...), nil
}

// openAnswer copies a Youdu answer into dst, replacing a string `encrypt`
// field by the plaintext it holds.
func (p *Provider) openAnswer(dst, body []byte, s *scratch) ([]byte, error) {
	dst = dst[:0]
	enc := gjson.Get(unsafeString(body), "encrypt")
	if enc.Type != gjson.String || enc.Index <= 0 {
		return append(dst, body...), nil
	}
	plain, _, err := p.youdu.AppendDecrypt(s.tmp[:0], unsafeBytes(enc.Str))
	if err != nil {
		return dst, fmt.Errorf("youdu answer: %w", err)
	}
	s.tmp = plain
	dst = append(dst, body[:enc.Index]...)
	if gjson.ValidBytes(plain) {
		dst = append(dst, plain...)
	} else {
		dst = abi.AppendJSONString(dst, unsafeString(plain))
	}
	return append(dst, body[enc.Index+len(enc.Raw):]...), nil
}

// tokenExpired reports whether the vendor refused the call's token.
func (p *Provider) tokenExpired(resp *fasthttp.Response) bool {
	switch p.dialect {
	case config.Easemob:
		return resp.StatusCode() == fasthttp.StatusUnauthorized
	case config.Youdu:
		if resp.StatusCode() != fasthttp.StatusOK {
			return false
		}
		switch gjson.Get(unsafeString(resp.Body()), "errcode").Int() {
		case 100001, 100002:
			return true
		}
	}
	return false
}

// unsafeString views b as a string for reading during the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unsafeBytes views s as bytes that must not be written.
func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// appendQueryEscape appends s escaped for a query value.
func appendQueryEscape(dst []byte, s string) []byte {
	const hexu = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hexu[c>>4], hexu[c&0xf])
		}
	}
	return dst
}
