package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/config"
)

// MediaFile is a file crossing the media bridge: its bytes and what is
// known about them.
type MediaFile struct {
	// Kind is the canonical kind: image, audio, video or file.
	Kind        string
	Name        string
	ContentType string
	Data        []byte
}

// MediaRef is a vendor's reference to a file it hosts. Which fields are
// set depends on the vendor: Youdu gives ID (mediaId), Easemob ID (uuid),
// URL and Secret (share-secret), NetEase URL.
type MediaRef struct {
	ID, URL, Secret string
}

// ErrMediaUnsupported is returned for a dialect without a media API.
var ErrMediaUnsupported = errors.New("upstream: the provider has no media API")

// mediaError is a media call the vendor refused or answered oddly. Its
// text never holds a credential.
func (p *Provider) mediaError(format string, args ...any) error {
	return fmt.Errorf("upstream: %s: media: %s", p.name, fmt.Sprintf(format, args...))
}

// youduMediaType maps a canonical kind to Youdu's upload type.
func youduMediaType(kind string) string {
	switch kind {
	case "image", "voice", "video":
		return kind
	case "audio":
		return "voice"
	}
	return "file"
}

// mediaCall sends one media request built by fill, with the provider's
// token, and retries once when the vendor refuses the token. The response
// is the caller's to release.
func (p *Provider) mediaCall(ctx context.Context, deadline time.Time, fill func(req *fasthttp.Request, tok string) error) (*fasthttp.Response, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-p.sem }()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	retried := false
	for {
		tok := ""
		if p.fetchFn != nil {
			var err error
			if tok, err = p.broker.Get(ctx, p.name, p.ahead, p.fetchFn); err != nil {
				fasthttp.ReleaseResponse(resp)
				return nil, fmt.Errorf("%w: %w", ErrToken, err)
			}
		}
		req.Reset()
		if err := fill(req, tok); err != nil {
			fasthttp.ReleaseResponse(resp)
			return nil, err
		}
		if p.dialect == config.Netease {
			s := scratchPool.Get().(*scratch)
			p.signNetease(req, s)
			scratchPool.Put(s)
		}
		if err := p.hc.DoDeadline(req, resp, deadline); err != nil {
			fasthttp.ReleaseResponse(resp)
			return nil, p.mediaError("%v", err)
		}
		if tok != "" && !retried && p.tokenExpired(resp) {
			p.broker.Drop(p.name, tok)
			retried = true
			continue
		}
		return resp, nil
	}
}

// UploadMedia stores f with the vendor's media API, with the provider's
// credentials, and returns the vendor's reference: Youdu's encrypted
// multipart /cgi/media/upload, Easemob's multipart /chatfiles (restricted:
// the reference carries the share-secret), NetEase's upload.action.
func (p *Provider) UploadMedia(ctx context.Context, deadline time.Time, f *MediaFile) (MediaRef, error) {
	switch p.dialect {
	case config.Youdu:
		return p.uploadYoudu(ctx, deadline, f)
	case config.Easemob:
		return p.uploadEasemob(ctx, deadline, f)
	case config.Netease:
		return p.uploadNetease(ctx, deadline, f)
	}
	return MediaRef{}, ErrMediaUnsupported
}

// DownloadMedia fetches a file the vendor hosts, at most limit bytes:
// Youdu by mediaId (/cgi/media/get), Easemob by uuid (/chatfiles/{uuid},
// with the share-secret when the reference has one).
func (p *Provider) DownloadMedia(ctx context.Context, deadline time.Time, ref MediaRef, limit int64) (MediaFile, error) {
	switch p.dialect {
	case config.Youdu:
		return p.downloadYoudu(ctx, deadline, ref, limit)
	case config.Easemob:
		return p.downloadEasemob(ctx, deadline, ref, limit)
	}
	return MediaFile{}, ErrMediaUnsupported
}

func multipartFile(w *multipart.Writer, name, contentType string, data []byte) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`"`, "_", "\\", "_", "\r", "_", "\n", "_").Replace(name)+`"`)
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	part, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = part.Write(data)
	return err
}

func (p *Provider) uploadYoudu(ctx context.Context, deadline time.Time, f *MediaFile) (MediaRef, error) {
	name := f.Name
	if name == "" {
		name = "file"
	}
	meta, _ := json.Marshal(map[string]string{"type": youduMediaType(f.Kind), "name": name})
	enc, err := p.youdu.Encrypt(meta, p.creds.appID)
	if err != nil {
		return MediaRef{}, p.mediaError("encrypt: %v", err)
	}
	file, err := p.youdu.AppendEncrypt(nil, f.Data, p.creds.appID)
	if err != nil {
		return MediaRef{}, p.mediaError("encrypt: %v", err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("buin", p.creds.buin)
	_ = w.WriteField("appId", p.creds.appID)
	_ = w.WriteField("encrypt", enc)
	if err := multipartFile(w, "file", "text/plain", file); err != nil {
		return MediaRef{}, p.mediaError("multipart: %v", err)
	}
	_ = w.Close()
	resp, err := p.mediaCall(ctx, deadline, func(req *fasthttp.Request, tok string) error {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(p.base + "/cgi/media/upload?accessToken=" + urlEscape(tok))
		req.Header.SetContentType(w.FormDataContentType())
		req.SetBodyRaw(body.Bytes())
		return nil
	})
	if err != nil {
		return MediaRef{}, err
	}
	defer fasthttp.ReleaseResponse(resp)
	plain, err := p.youduResult(resp)
	if err != nil {
		return MediaRef{}, err
	}
	id := gjson.GetBytes(plain, "mediaId").Str
	if id == "" {
		return MediaRef{}, p.mediaError("upload answer has no mediaId")
	}
	return MediaRef{ID: id}, nil
}

// youduResult checks errcode and returns the decrypted encrypt field.
func (p *Provider) youduResult(resp *fasthttp.Response) ([]byte, error) {
	b := resp.Body()
	if resp.StatusCode() != fasthttp.StatusOK {
		return nil, p.mediaError("HTTP %d", resp.StatusCode())
	}
	if code := gjson.GetBytes(b, "errcode").Int(); code != 0 {
		return nil, p.mediaError("errcode %d %s", code, gjson.GetBytes(b, "errmsg").Str)
	}
	plain, _, err := p.youdu.Decrypt(gjson.GetBytes(b, "encrypt").Str)
	if err != nil {
		return nil, p.mediaError("answer: %v", err)
	}
	return plain, nil
}

func (p *Provider) downloadYoudu(ctx context.Context, deadline time.Time, ref MediaRef, limit int64) (MediaFile, error) {
	payload, _ := json.Marshal(map[string]string{"mediaId": ref.ID})
	env, err := p.youduEnvelope(nil, payload)
	if err != nil {
		return MediaFile{}, p.mediaError("%v", err)
	}
	resp, err := p.mediaCall(ctx, deadline, func(req *fasthttp.Request, tok string) error {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(p.base + "/cgi/media/get?accessToken=" + urlEscape(tok))
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(env)
		return nil
	})
	if err != nil {
		return MediaFile{}, err
	}
	defer fasthttp.ReleaseResponse(resp)
	hdr := resp.Header.Peek("encrypt")
	if resp.StatusCode() != fasthttp.StatusOK || len(hdr) == 0 {
		// Failure is an ordinary JSON errcode answer.
		return MediaFile{}, p.mediaError("media get: HTTP %d errcode %d", resp.StatusCode(), gjson.GetBytes(resp.Body(), "errcode").Int())
	}
	info, _, err := p.youdu.Decrypt(string(hdr))
	if err != nil {
		return MediaFile{}, p.mediaError("media get header: %v", err)
	}
	if n := gjson.GetBytes(info, "size").Int(); limit > 0 && n > limit {
		return MediaFile{}, &TooLargeError{Limit: limit}
	}
	data, _, err := p.youdu.AppendDecrypt(nil, bytes.TrimSpace(resp.Body()))
	if err != nil {
		return MediaFile{}, p.mediaError("media get body: %v", err)
	}
	if limit > 0 && int64(len(data)) > limit {
		return MediaFile{}, &TooLargeError{Limit: limit}
	}
	return MediaFile{Name: gjson.GetBytes(info, "name").Str, Data: data}, nil
}

// TooLargeError is a file over the caller's limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return "upstream: media larger than " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

func (p *Provider) easemobBase() string {
	return p.base + "/" + p.creds.org + "/" + p.creds.app + "/chatfiles"
}

func (p *Provider) uploadEasemob(ctx context.Context, deadline time.Time, f *MediaFile) (MediaRef, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	name := f.Name
	if name == "" {
		name = "file"
	}
	if err := multipartFile(w, name, f.ContentType, f.Data); err != nil {
		return MediaRef{}, p.mediaError("multipart: %v", err)
	}
	_ = w.Close()
	resp, err := p.mediaCall(ctx, deadline, func(req *fasthttp.Request, tok string) error {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(p.easemobBase())
		req.Header.SetContentType(w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("restrict-access", "true")
		req.SetBodyRaw(body.Bytes())
		return nil
	})
	if err != nil {
		return MediaRef{}, err
	}
	defer fasthttp.ReleaseResponse(resp)
	b := resp.Body()
	if resp.StatusCode() != fasthttp.StatusOK {
		return MediaRef{}, p.mediaError("chatfiles: HTTP %d %s", resp.StatusCode(), gjson.GetBytes(b, "error").Str)
	}
	ent := gjson.GetBytes(b, "entities.0")
	id := ent.Get("uuid").Str
	if id == "" {
		return MediaRef{}, p.mediaError("chatfiles answer has no uuid")
	}
	uri := gjson.GetBytes(b, "uri").Str
	if uri == "" {
		uri = p.easemobBase()
	}
	return MediaRef{ID: id, URL: strings.TrimRight(uri, "/") + "/" + id, Secret: ent.Get("share-secret").Str}, nil
}

func (p *Provider) downloadEasemob(ctx context.Context, deadline time.Time, ref MediaRef, limit int64) (MediaFile, error) {
	id := ref.ID
	if id == "" {
		id = ref.URL[strings.LastIndexByte(ref.URL, '/')+1:]
	}
	if id == "" || strings.ContainsAny(id, "/?#%") {
		return MediaFile{}, p.mediaError("bad chatfile id")
	}
	resp, err := p.mediaCall(ctx, deadline, func(req *fasthttp.Request, tok string) error {
		req.Header.SetMethod(fasthttp.MethodGet)
		req.SetRequestURI(p.easemobBase() + "/" + id)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/octet-stream")
		if ref.Secret != "" {
			req.Header.Set("share-secret", ref.Secret)
		}
		return nil
	})
	if err != nil {
		return MediaFile{}, err
	}
	defer fasthttp.ReleaseResponse(resp)
	if resp.StatusCode() != fasthttp.StatusOK {
		return MediaFile{}, p.mediaError("chatfiles download: HTTP %d", resp.StatusCode())
	}
	if limit > 0 && int64(len(resp.Body())) > limit {
		return MediaFile{}, &TooLargeError{Limit: limit}
	}
	return MediaFile{ContentType: string(resp.Header.ContentType()), Data: append([]byte(nil), resp.Body()...)}, nil
}

func (p *Provider) uploadNetease(ctx context.Context, deadline time.Time, f *MediaFile) (MediaRef, error) {
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.Set("content", base64.StdEncoding.EncodeToString(f.Data))
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	args.Set("type", ct)
	args.Set("ishttps", "true")
	body := args.QueryString()
	resp, err := p.mediaCall(ctx, deadline, func(req *fasthttp.Request, _ string) error {
		req.Header.SetMethod(fasthttp.MethodPost)
		path := "/nimserver/msg/upload.action"
		if strings.HasSuffix(p.base, "/nimserver") {
			path = "/msg/upload.action"
		}
		req.SetRequestURI(p.base + path)
		req.Header.SetContentType("application/x-www-form-urlencoded;charset=utf-8")
		req.SetBodyRaw(body)
		return nil
	})
	if err != nil {
		return MediaRef{}, err
	}
	defer fasthttp.ReleaseResponse(resp)
	b := resp.Body()
	if code := gjson.GetBytes(b, "code").Int(); resp.StatusCode() != fasthttp.StatusOK || code != 200 {
		return MediaRef{}, p.mediaError("upload.action: HTTP %d code %d %s", resp.StatusCode(), code, gjson.GetBytes(b, "desc").Str)
	}
	u := gjson.GetBytes(b, "url").Str
	if u == "" {
		return MediaRef{}, p.mediaError("upload.action answer has no url")
	}
	return MediaRef{URL: u}, nil
}

func urlEscape(s string) string { return string(appendQueryEscape(nil, s)) }

// OwnsMediaURL reports whether u is a file this provider hosts and
// DownloadMedia can fetch with its credentials (an Easemob chatfile of the
// provider's org and app).
func (p *Provider) OwnsMediaURL(u string) bool {
	if p.dialect != config.Easemob {
		return false
	}
	rest, ok := strings.CutPrefix(u, p.easemobBase()+"/")
	return ok && rest != "" && !strings.ContainsAny(rest, "/?#")
}
