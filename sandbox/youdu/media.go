package youdu

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Media error codes (vendors.md §3.8).
const (
	CodeBadMultipart = 200008
	CodeBadFileType  = 200009
	CodeMediaMissing = 200010
)

// MaxMedia bounds an uploaded file (plaintext bytes). Youdu does not
// document a limit; 20 MB is imrelay's choice.
const MaxMedia = 20 << 20

// mediaTypes are the type values /cgi/media/upload accepts.
var mediaTypes = map[string]bool{"image": true, "file": true, "voice": true, "video": true}

// authedApp checks the accessToken of a media call and the forced-expiry
// fault; it returns the app the token belongs to.
func (e *Emulator) authedApp(ctx *fasthttp.RequestCtx) (string, *apiError) {
	now := e.core.Now()
	tok := string(ctx.QueryArgs().Peek("accessToken"))
	app, aerr := e.tokens.check(tok, now)
	if aerr != nil {
		return "", aerr
	}
	if e.core.Faults.TakeExpiry() {
		e.tokens.expire(tok, now)
		return "", errf(CodeTokenExpired, "accessToken expired")
	}
	return app, nil
}

// encryptedOK answers errcode 0 with v encrypted for the app.
func (e *Emulator) encryptedOK(ctx *fasthttp.RequestCtx, app string, v any) *apiError {
	payload, _ := json.Marshal(v)
	enc, err := e.apps[app].Encrypt(payload, app)
	if err != nil {
		return errInternal
	}
	emu.WriteJSON(ctx, fasthttp.StatusOK, answer{ErrCode: CodeOK, ErrMsg: "ok", Encrypt: enc})
	return nil
}

// mediaUpload serves POST /cgi/media/upload: a multipart form with buin,
// appId, encrypt = Encrypt({"type","name"}) and a part "file" whose content
// is the Base64 ciphertext of the file. The answer's encrypt holds
// {"mediaId"}.
func (e *Emulator) mediaUpload(ctx *fasthttp.RequestCtx) *apiError {
	app, aerr := e.authedApp(ctx)
	if aerr != nil {
		return aerr
	}
	form, err := ctx.MultipartForm()
	if err != nil {
		return errf(CodeBadMultipart, "bad multipart upload")
	}
	val := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	buin, err := strconv.ParseInt(val("buin"), 10, 64)
	env, _ := json.Marshal(map[string]any{"buin": json.Number(strconv.FormatInt(buin, 10)), "appId": val("appId"), "encrypt": val("encrypt")})
	if err != nil {
		return errf(CodeBuinNotInt, "buin must be an int")
	}
	opened, aerr := e.openEnvelope(env)
	if aerr != nil {
		return aerr
	}
	if opened.appID != app {
		return errf(CodeBadAppID, "invalid appId: the accessToken belongs to %q", app)
	}
	meta := gjson.ParseBytes(opened.msg)
	typ, name := meta.Get("type").Str, meta.Get("name").Str
	if !mediaTypes[typ] {
		return errf(CodeBadFileType, "invalid file type %q", typ)
	}
	files := form.File["file"]
	if len(files) != 1 || files[0].Size > 2*MaxMedia {
		return errf(CodeBadMultipart, "bad multipart upload: want one file part named file")
	}
	f, err := files[0].Open()
	if err != nil {
		return errf(CodeBadMultipart, "bad multipart upload")
	}
	var ct bytes.Buffer
	_, err = ct.ReadFrom(f)
	_ = f.Close()
	if err != nil {
		return errf(CodeBadMultipart, "bad multipart upload")
	}
	data, trailing, err := opened.cipher.Decrypt(string(bytes.TrimSpace(ct.Bytes())))
	if err != nil || trailing != app {
		return errf(CodeBadEncrypt, "encrypt decrypt failed")
	}
	if len(data) > MaxMedia {
		return errf(CodeBadMultipart, "file larger than %d bytes", MaxMedia)
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	m := e.core.AddUpload(string(ctx.Path()), emu.Media{ID: e.core.NewIDString(), Kind: typ, Name: name}, data)
	return e.encryptedOK(ctx, app, map[string]string{"mediaId": m.ID})
}

// mediaRef opens the envelope of a get or search call: {"mediaId"}.
func (e *Emulator) mediaRef(ctx *fasthttp.RequestCtx) (string, emu.Media, []byte, *apiError) {
	app, aerr := e.authedApp(ctx)
	if aerr != nil {
		return "", emu.Media{}, nil, aerr
	}
	env, aerr := e.openEnvelope(ctx.PostBody())
	if aerr != nil {
		return "", emu.Media{}, nil, aerr
	}
	if env.appID != app {
		return "", emu.Media{}, nil, errf(CodeBadAppID, "invalid appId: the accessToken belongs to %q", app)
	}
	id := gjson.GetBytes(env.msg, "mediaId")
	if id.Type != gjson.String || id.Str == "" {
		return "", emu.Media{}, nil, badFormat("mediaId required")
	}
	m, data, ok := e.core.Media.Get(id.Str)
	if !ok {
		return "", emu.Media{}, nil, errf(CodeMediaMissing, "media not exist")
	}
	return app, m, data, nil
}

type mediaInfo struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// mediaGet serves POST /cgi/media/get. Success is not JSON: the header
// encrypt holds Encrypt({"name","size"}) and the body is the Base64
// ciphertext of the file.
func (e *Emulator) mediaGet(ctx *fasthttp.RequestCtx) *apiError {
	app, m, data, aerr := e.mediaRef(ctx)
	if aerr != nil {
		return aerr
	}
	c := e.apps[app]
	info, _ := json.Marshal(mediaInfo{Name: m.Name, Size: m.Size})
	hdr, err := c.Encrypt(info, app)
	if err != nil {
		return errInternal
	}
	body, err := c.AppendEncrypt(nil, data, app)
	if err != nil {
		return errInternal
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.Set("encrypt", hdr)
	ctx.SetContentType("application/octet-stream")
	ctx.SetBody(body)
	return nil
}

// mediaSearch serves POST /cgi/media/search: encrypt holds {"name","size"}.
func (e *Emulator) mediaSearch(ctx *fasthttp.RequestCtx) *apiError {
	app, m, _, aerr := e.mediaRef(ctx)
	if aerr != nil {
		return aerr
	}
	return e.encryptedOK(ctx, app, mediaInfo{Name: m.Name, Size: m.Size})
}
