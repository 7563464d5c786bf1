// Package inbound checks the relay's own clients, in each dialect's way,
// before any plugin sees their request:
//
//   - netease: the AppKey, Nonce, CurTime and CheckSum headers against the
//     route's app key and secret, with the CurTime window (constant time);
//   - easemob: the relay answers `POST /{org}/{app}/token` itself for the
//     route's client id and secret, and checks the bearer tokens it issued;
//   - youdu: the relay answers `POST /cgi/gettoken` itself, checks the
//     `accessToken` it issued, and opens the client's AES envelope, so the
//     codec sees plaintext; [Verifier.Seal] encrypts what goes back;
//   - getsender, opapp: the `client` query parameter must be a configured
//     client id and its secret must match (`token` for getsender, `channel`
//     for opapp), plus `sign` when one is configured.
//
// Once the client is known, every dialect's body must be UTF-8 and nest at
// most MaxDepth levels (body.go), so no plugin spends seconds on a hostile
// body; a NetEase CheckSum is accepted once within its CurTime window.
//
// The token endpoints are answered natively, in the vendor's exact shapes.
// Every other failure is returned as an *abi.GuestError (CodeUnauthorized,
// or CodeBadRequest for an envelope that cannot be opened) that the relay
// hands to the route's inbound codec, whose encode_response renders it in
// the dialect's error shape like any other canonical error: one renderer
// per dialect, and the plugin sees no secret.
package inbound

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Failures. They are shared values: callers must not modify them.
var (
	ErrNeteaseHeaders  = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "missing AppKey, Nonce, CurTime or CheckSum header"}
	ErrNeteaseAppKey   = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "appkey"}
	ErrNeteaseCheckSum = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "checksum"}
	ErrNeteaseCurTime  = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "CurTime is expired"}

	ErrBearerMissing = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "Unable to authenticate due to expired access token"}
	ErrBearerCorrupt = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "Unable to authenticate due to corrupt access token"}
	ErrBearerExpired = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "Unable to authenticate due to expired access token"}

	ErrYouduNoToken      = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "accessToken is empty", Field: "accessToken"}
	ErrYouduTokenUnknown = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "accessToken does not exist", Field: "accessToken"}
	ErrYouduTokenExpired = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "accessToken expired", Field: "accessToken"}
	ErrYouduBuin         = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "invalid buin", Field: "buin"}
	ErrYouduAppID        = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "invalid appId", Field: "appId"}
	ErrYouduEnvelope     = &abi.GuestError{Code: abi.CodeBadRequest, Message: "encrypt cannot be decrypted with the app's EncodingAESKey", Field: "encrypt"}
	ErrYouduNotEnvelope  = &abi.GuestError{Code: abi.CodeBadRequest, Message: `body must be {"buin","appId","encrypt"}`}

	ErrClientMissing = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "client is empty", Field: "client"}
	ErrClientUnknown = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "client does not exist", Field: "client"}
	ErrClientToken   = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "client credentials refused"}
	ErrClientSign    = &abi.GuestError{Code: abi.CodeUnauthorized, Message: "sign refused", Field: "sign"}
)

// Options are what a [Verifier] takes from outside its configuration.
type Options struct {
	// Scope names the route; tokens issued for one scope are refused by
	// every other.
	Scope string
	// Now is the clock for the CurTime window and token expiry; nil means
	// time.Now.
	Now func() time.Time
}

// Verifier checks the clients of one route.
type Verifier struct {
	dialect  string
	disabled bool
	now      func() time.Time
	window   time.Duration

	ne auth.CheckSumVerifier

	issuer    *Issuer
	tokenPath string

	// easemob
	clientID, clientSecret string
	application            string

	// youdu
	youdu *auth.YouduCipher
	buin  int64
	appID string

	// getsender, opapp
	clients    []client
	tokenParam string
}

type client struct{ id, token, sign string }

// New returns the verifier of a route whose clients speak dialect.
func New(dialect string, a *config.Auth, opt Options) (*Verifier, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	v := &Verifier{dialect: dialect, disabled: a.Disabled, now: opt.Now, window: a.Window}
	if v.window <= 0 {
		v.window = auth.CheckSumWindow
	}
	if a.Disabled {
		return v, nil
	}
	var err error
	switch dialect {
	case config.Netease:
		v.ne = auth.CheckSumVerifier{AppKey: a.AppKey, AppSecret: a.AppSecret.Value(), Window: v.window, Now: opt.Now}
	case config.Easemob:
		v.clientID, v.clientSecret = a.ClientID, a.ClientSecret.Value()
		v.tokenPath = "/" + a.Org + "/" + a.App + "/token"
		v.application = a.Org + "#" + a.App
		v.issuer, err = NewIssuer([]byte(a.TokenKey.Value()), "easemob|"+opt.Scope+"|"+a.Org+"#"+a.App+"|"+a.ClientID, a.IssuedTokenTTL, opt.Now)
	case config.Youdu:
		if v.youdu, err = auth.NewYouduCipher(a.AESKey.Value()); err != nil {
			return nil, fmt.Errorf("inbound: youdu aes_key: %w", err)
		}
		v.buin, v.appID = a.Buin, a.AppID
		v.tokenPath = "/cgi/gettoken"
		v.issuer, err = NewIssuer([]byte(a.TokenKey.Value()), "youdu|"+opt.Scope+"|"+strconv.FormatInt(a.Buin, 10)+"|"+a.AppID, a.IssuedTokenTTL, opt.Now)
	case config.Getsender, config.Opapp:
		v.tokenParam = "token"
		if dialect == config.Opapp {
			v.tokenParam = "channel"
		}
		for _, c := range a.Clients {
			v.clients = append(v.clients, client{id: c.ID, token: c.Token.Value(), sign: c.Sign.Value()})
		}
	default:
		return nil, fmt.Errorf("inbound: unknown dialect %q", dialect)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Disabled reports whether the route checks no credentials.
func (v *Verifier) Disabled() bool { return v.disabled }

// TokenPath is the path of the token endpoint the relay answers for this
// route's clients ("" when the dialect has none or auth is off).
func (v *Verifier) TokenPath() string { return v.tokenPath }

// Issuer returns the issuer of the route's client tokens (nil when none).
func (v *Verifier) Issuer() *Issuer { return v.issuer }

// Verify checks the request in ctx and returns the body the inbound codec
// must see: the request body itself, or for Youdu the plaintext of its
// envelope, appended to buf[:0]. It does not allocate on success with a
// buffer of enough capacity.
//
// Once the client is known, the body must be UTF-8 and nest at most
// [MaxDepth] levels ([CheckBody]); a NetEase CheckSum is accepted once.
func (v *Verifier) Verify(ctx *fasthttp.RequestCtx, buf []byte) ([]byte, *abi.GuestError) {
	body, ge := v.verify(ctx, buf)
	if ge != nil {
		return nil, ge
	}
	if ge := CheckBody(body); ge != nil {
		return nil, ge
	}
	return body, nil
}

func (v *Verifier) verify(ctx *fasthttp.RequestCtx, buf []byte) ([]byte, *abi.GuestError) {
	body := ctx.PostBody()
	if v.disabled {
		return body, nil
	}
	switch v.dialect {
	case config.Netease:
		h := &ctx.Request.Header
		appKey, nonce, curTime, sum := h.Peek("AppKey"), h.Peek("Nonce"), h.Peek("CurTime"), h.Peek("CheckSum")
		switch err := v.ne.Verify(appKey, nonce, curTime, sum); {
		case err == nil:
			if ge := replays.first(sum, curTime, v.window, v.now()); ge != nil {
				return nil, ge
			}
			return body, nil
		case isErr(err, auth.ErrMissingHeader):
			return nil, ErrNeteaseHeaders
		case isErr(err, auth.ErrUnknownAppKey):
			return nil, ErrNeteaseAppKey
		case isErr(err, auth.ErrCurTimeExpired):
			return nil, ErrNeteaseCurTime
		default:
			return nil, ErrNeteaseCheckSum
		}
	case config.Easemob:
		a := ctx.Request.Header.Peek("Authorization")
		if len(a) == 0 {
			return nil, ErrBearerMissing
		}
		if len(a) < 7 || !bytes.EqualFold(a[:7], []byte("Bearer ")) {
			return nil, ErrBearerCorrupt
		}
		switch v.issuer.Check(bytes.TrimSpace(a[7:])) {
		case nil:
			return body, nil
		case ErrTokenExpired:
			return nil, ErrBearerExpired
		case ErrTokenMissing:
			return nil, ErrBearerMissing
		default:
			return nil, ErrBearerCorrupt
		}
	case config.Youdu:
		switch v.issuer.Check(ctx.QueryArgs().Peek("accessToken")) {
		case nil:
		case ErrTokenMissing:
			return nil, ErrYouduNoToken
		case ErrTokenExpired:
			return nil, ErrYouduTokenExpired
		default:
			return nil, ErrYouduTokenUnknown
		}
		return v.open(body, buf)
	case config.Getsender, config.Opapp:
		q := ctx.QueryArgs()
		id := q.Peek("client")
		if len(id) == 0 {
			return nil, ErrClientMissing
		}
		for i := range v.clients {
			c := &v.clients[i]
			if string(id) != c.id {
				continue
			}
			if !auth.EqualToken(q.Peek(v.tokenParam), c.token) {
				return nil, ErrClientToken
			}
			if c.sign != "" && !auth.EqualToken(q.Peek("sign"), c.sign) {
				return nil, ErrClientSign
			}
			return body, nil
		}
		return nil, ErrClientUnknown
	}
	return nil, ErrClientToken
}

// open checks a Youdu envelope and appends its plaintext to buf[:0].
func (v *Verifier) open(body, buf []byte) ([]byte, *abi.GuestError) {
	s := unsafeString(body)
	if !gjson.Valid(s) {
		return nil, ErrYouduNotEnvelope
	}
	buin, app, enc := gjson.Get(s, "buin"), gjson.Get(s, "appId"), gjson.Get(s, "encrypt")
	if enc.Type != gjson.String {
		return nil, ErrYouduNotEnvelope
	}
	if buin.Type != gjson.Number || buin.Int() != v.buin {
		return nil, ErrYouduBuin
	}
	if app.Type != gjson.String || app.Str != v.appID {
		return nil, ErrYouduAppID
	}
	plain, trailer, err := v.youdu.AppendDecrypt(buf[:0], unsafeBytes(enc.Str))
	if err != nil || string(trailer) != v.appID {
		return nil, ErrYouduEnvelope
	}
	return plain, nil
}

// Seal prepares the answer for a client: for Youdu, an `encrypt` field
// whose value is JSON (not yet a string) is replaced by its envelope, as
// Youdu answers carry data. Other answers are appended unchanged.
func (v *Verifier) Seal(dst, answer []byte) ([]byte, error) {
	if v.dialect != config.Youdu || v.youdu == nil {
		return append(dst, answer...), nil
	}
	enc := gjson.Get(unsafeString(answer), "encrypt")
	if !enc.Exists() || enc.Type == gjson.String || enc.Index <= 0 {
		return append(dst, answer...), nil
	}
	dst = append(dst, answer[:enc.Index]...)
	dst = append(dst, '"')
	var err error
	if dst, err = v.youdu.AppendEncrypt(dst, answer[enc.Index:enc.Index+len(enc.Raw)], v.appID); err != nil {
		return dst, fmt.Errorf("inbound: youdu answer: %w", err)
	}
	dst = append(dst, '"')
	return append(dst, answer[enc.Index+len(enc.Raw):]...), nil
}

func isErr(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
