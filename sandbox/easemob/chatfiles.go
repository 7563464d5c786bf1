package easemob

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// MaxChatFile is the largest file /chatfiles accepts (vendors.md §1.5).
const MaxChatFile = 10 << 20

var (
	errNoFile   = errIllegal("file must be provided.")
	errFileSize = apiError{413, "file exceeding maximum limit", excIllegalArg, "the file size exceeds the maximum limit.", 0}
	errSecret   = apiError{401, "unauthorized", excSecurity, "share-secret is missing or wrong", 0}
)

// chatfile is one entity of the upload answer.
type chatfile struct {
	UUID        string `json:"uuid"`
	Type        string `json:"type"`
	ShareSecret string `json:"share-secret,omitempty"`
}

type uploadAnswer struct {
	Action          string     `json:"action"`
	Application     string     `json:"application"`
	Path            string     `json:"path"`
	URI             string     `json:"uri"`
	Entities        []chatfile `json:"entities"`
	Timestamp       int64      `json:"timestamp"`
	Duration        int64      `json:"duration"`
	Organization    string     `json:"organization"`
	ApplicationName string     `json:"applicationName"`
}

// chatfiles serves POST /{org}/{app}/chatfiles (upload, multipart field
// "file") and GET /{org}/{app}/chatfiles/{uuid} (download). Every upload
// gets a share-secret; a download must present it when the upload asked
// for restrict-access: true. [ASSUMPTION: the secret is always issued]
func (e *Emulator) chatfiles(ctx *fasthttp.RequestCtx, rest string) {
	if id, ok := strings.CutPrefix(rest, "chatfiles/"); ok {
		if !ctx.IsGet() {
			e.fail(ctx, errMethod)
			return
		}
		m, data, found := e.core.Media.Get(id)
		if !found {
			e.fail(ctx, errNotFound)
			return
		}
		if m.Kind == "restricted" && string(ctx.Request.Header.Peek("share-secret")) != m.Secret {
			e.fail(ctx, errSecret)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/octet-stream")
		ctx.SetBody(data)
		return
	}
	if !ctx.IsPost() {
		e.fail(ctx, errMethod)
		return
	}
	if len(ctx.PostBody()) > MaxChatFile+64<<10 {
		e.fail(ctx, errFileSize)
		return
	}
	form, err := ctx.MultipartForm()
	if err != nil || len(form.File["file"]) == 0 {
		e.fail(ctx, errNoFile)
		return
	}
	fh := form.File["file"][0]
	if fh.Size > MaxChatFile {
		e.fail(ctx, errFileSize)
		return
	}
	f, err := fh.Open()
	if err != nil {
		e.fail(ctx, errNoFile)
		return
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	_ = f.Close()
	if err != nil {
		e.fail(ctx, errNoFile)
		return
	}
	kind := "open"
	if strings.EqualFold(string(ctx.Request.Header.Peek("restrict-access")), "true") {
		kind = "restricted"
	}
	m := e.core.AddUpload(string(ctx.Path()), emu.Media{
		ID: newUUID(), Kind: kind, Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Secret: newSecret(),
	}, buf.Bytes())
	base := "/" + e.cfg.Org + "/" + e.cfg.App
	emu.WriteJSON(ctx, fasthttp.StatusOK, uploadAnswer{
		Action: "post", Application: e.cfg.Application, Path: "/chatfiles",
		URI:       "http://" + string(ctx.Host()) + base + "/chatfiles",
		Entities:  []chatfile{{UUID: m.ID, Type: "chatfile", ShareSecret: m.Secret}},
		Timestamp: e.core.Now().UnixMilli(), Organization: e.cfg.Org, ApplicationName: e.cfg.App,
	})
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x10 // time-based ids, as the vendor's look
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func newSecret() string {
	var b [30]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
