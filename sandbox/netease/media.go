package netease

import (
	"encoding/base64"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// MaxUpload bounds the decoded content of upload.action (vendors.md §2.5).
const MaxUpload = 15 << 20

// mediaPrefix is where the emulator serves the files upload.action stored;
// the URL it answers points there, on the host the client called.
const mediaPrefix = "/nos/"

// upload serves POST /nimserver/msg/upload.action: form field content is
// the file in Base64, type its content type. The answer is
// {"code":200,"url":..} with url at the top level.
func (e *Emulator) upload(ctx *fasthttp.RequestCtx, _ *route) *apiError {
	f := readForm(ctx)
	content := f.get("content")
	if content == "" {
		return errParam("content is empty")
	}
	if base64.StdEncoding.DecodedLen(len(content)) > MaxUpload+3 {
		return &apiError{405, "content too long"}
	}
	data, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return errParam("content is not base64")
	}
	if len(data) > MaxUpload {
		return &apiError{405, "content too long"}
	}
	typ := f.get("type")
	if len(typ) > 128 {
		return errParam("type too long")
	}
	if e.core.Faults.Fail() {
		return errInternal
	}
	m := e.core.AddUpload(string(ctx.Path()), emu.Media{ID: e.core.NewIDString(), Kind: f.get("tag"), ContentType: typ}, data)
	emu.WriteJSON(ctx, fasthttp.StatusOK, map[string]any{
		"code": CodeOK, "url": "http://" + string(ctx.Host()) + mediaPrefix + m.ID,
	})
	return nil
}

// download serves GET /nos/{id}, the URLs upload.action answers, without
// authentication as a CDN would. It reports whether the path was its.
func (e *Emulator) download(ctx *fasthttp.RequestCtx) bool {
	id, ok := strings.CutPrefix(string(ctx.Path()), mediaPrefix)
	if !ok {
		return false
	}
	m, data, found := e.core.Media.Get(id)
	if !ctx.IsGet() || !found {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx.SetContentType(ct)
	ctx.SetBody(data)
	return true
}
