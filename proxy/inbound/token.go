package inbound

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
)

// ServeToken answers a call to the route's token endpoint
// ([Verifier.TokenPath]) in the dialect's own shapes, success and errors
// alike.
func (v *Verifier) ServeToken(ctx *fasthttp.RequestCtx) {
	switch v.dialect {
	case config.Easemob:
		v.serveEasemobToken(ctx)
	case config.Youdu:
		v.serveYouduToken(ctx)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// easemobError writes Easemob's error shape.
func easemobError(ctx *fasthttp.RequestCtx, status int, code, desc string, now time.Time) {
	b, _ := json.Marshal(map[string]any{
		"error": code, "exception": "org.apache.usergrid.rest.exceptions.SecurityException",
		"timestamp": now.UnixMilli(), "duration": 0, "error_description": desc,
	})
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json;charset=UTF-8")
	ctx.SetBody(b)
}

func (v *Verifier) serveEasemobToken(ctx *fasthttp.RequestCtx) {
	now := v.now()
	if !ctx.IsPost() {
		easemobError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "Request method '"+string(ctx.Method())+"' not supported", now)
		return
	}
	body := ctx.PostBody()
	if !gjson.ValidBytes(body) {
		easemobError(ctx, fasthttp.StatusBadRequest, "json_parse", "Unexpected character in the request body", now)
		return
	}
	s := string(body)
	grant, id, secret := gjson.Get(s, "grant_type").String(), gjson.Get(s, "client_id"), gjson.Get(s, "client_secret")
	switch {
	case grant != "client_credentials":
		easemobError(ctx, fasthttp.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials", now)
		return
	case id.String() == "":
		easemobError(ctx, fasthttp.StatusBadRequest, "illegal_argument", "client_id must be provided.", now)
		return
	case secret.String() == "":
		easemobError(ctx, fasthttp.StatusBadRequest, "illegal_argument", "client_secret must be provided", now)
		return
	case id.String() != v.clientID:
		easemobError(ctx, fasthttp.StatusBadRequest, "invalid_grant", "client_id does not match", now)
		return
	case !auth.EqualTokenString(secret.String(), v.clientSecret):
		easemobError(ctx, fasthttp.StatusBadRequest, "invalid_grant", "client_secret does not match", now)
		return
	}
	tok, err := v.issuer.Issue()
	if err != nil {
		easemobError(ctx, fasthttp.StatusInternalServerError, "internal_error", "cannot issue a token", now)
		return
	}
	b, _ := json.Marshal(map[string]any{
		"access_token": tok,
		"expires_in":   int64(v.issuer.TTL() / time.Second),
		"application":  v.application,
	})
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json;charset=UTF-8")
	ctx.SetBody(b)
}

// youduError writes Youdu's error shape (HTTP 200, errcode).
func youduError(ctx *fasthttp.RequestCtx, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"errcode": code, "errmsg": msg})
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (v *Verifier) serveYouduToken(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		youduError(ctx, 5, "invalid request")
		return
	}
	body := ctx.PostBody()
	if !gjson.ValidBytes(body) {
		youduError(ctx, 100004, "invalid json")
		return
	}
	s := string(body)
	buin, app, enc := gjson.Get(s, "buin"), gjson.Get(s, "appId"), gjson.Get(s, "encrypt")
	switch {
	case !buin.Exists():
		youduError(ctx, 100008, "missing buin")
		return
	case buin.Type != gjson.Number:
		youduError(ctx, 100012, "buin is not int")
		return
	case buin.Int() != v.buin:
		youduError(ctx, 100009, "invalid buin")
		return
	case !app.Exists():
		youduError(ctx, 100010, "missing appId")
		return
	case app.Str != v.appID:
		youduError(ctx, 100005, "invalid appId")
		return
	case !enc.Exists():
		youduError(ctx, 100011, "missing encrypt")
		return
	case enc.Type != gjson.String:
		youduError(ctx, 100014, "encrypt is not string")
		return
	}
	plain, trailer, err := v.youdu.Decrypt(enc.Str)
	if err != nil || trailer != v.appID {
		youduError(ctx, 100006, "encrypt decrypt failed")
		return
	}
	ts, err := strconv.ParseInt(string(plain), 10, 64)
	now := v.now()
	if err != nil {
		youduError(ctx, 100003, "invalid request: encrypt must hold the Unix time in seconds")
		return
	}
	if d := now.Unix() - ts; d > int64(v.window/time.Second) || -d > int64(v.window/time.Second) {
		youduError(ctx, 100003, "invalid request: the encrypted time is too far from the server's clock")
		return
	}
	tok, err := v.issuer.Issue()
	if err != nil {
		youduError(ctx, -1, "internal error")
		return
	}
	inner, _ := json.Marshal(map[string]any{"accessToken": tok, "expireIn": int64(v.issuer.TTL() / time.Second)})
	sealed, err := v.youdu.Encrypt(inner, v.appID)
	if err != nil {
		youduError(ctx, -1, "internal error")
		return
	}
	b, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "encrypt": sealed})
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
