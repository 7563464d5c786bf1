package youdu

import (
	"bytes"
	"mime/multipart"
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// upload posts an encrypted multipart upload as Youdu's SDKs do.
func (h *harness) upload(tok, app, meta string, data []byte) reply {
	h.t.Helper()
	c := cipherOf(h.t, app)
	enc, err := c.Encrypt([]byte(meta), app)
	if err != nil {
		h.t.Fatal(err)
	}
	file, err := c.Encrypt(data, app)
	if err != nil {
		h.t.Fatal(err)
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("buin", strconv.Itoa(testBuin))
	_ = w.WriteField("appId", app)
	_ = w.WriteField("encrypt", enc)
	fw, _ := w.CreateFormFile("file", "file")
	_, _ = fw.Write([]byte(file))
	_ = w.Close()
	return h.post("/cgi/media/upload?accessToken="+tok, b.String(), w.FormDataContentType())
}

func TestMediaUploadGetSearch(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	data := []byte("GIF89a tiny image")
	a := h.upload(tok, testApp, `{"type":"image","name":"a.gif"}`, data)
	a.want(t, CodeOK)
	c := cipherOf(t, testApp)
	msg, _, err := c.Decrypt(a.json.Get("encrypt").Str)
	if err != nil {
		t.Fatal(err)
	}
	id := gjson.GetBytes(msg, "mediaId").Str
	if id == "" {
		t.Fatalf("upload answer %s", msg)
	}
	ups := h.e.Core().Inbox.List(emu.Filter{Type: emu.MediaType})
	if len(ups) != 1 || ups[0].ID != id {
		t.Fatalf("inbox %+v", ups)
	}

	// get: not JSON; header encrypt holds name and size.
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://youdu.test/cgi/media/get?accessToken=" + tok)
	req.SetBodyString(h.seal(testApp, `{"mediaId":"`+id+`"}`))
	if err := h.cli.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	hdr := string(resp.Header.Peek("encrypt"))
	info, _, err := c.Decrypt(hdr)
	if err != nil || gjson.GetBytes(info, "name").Str != "a.gif" || gjson.GetBytes(info, "size").Int() != int64(len(data)) {
		t.Fatalf("get header %q: %s %v", hdr, info, err)
	}
	got, _, err := c.Decrypt(string(resp.Body()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get body: %q %v", got, err)
	}

	s := h.post("/cgi/media/search?accessToken="+tok, h.seal(testApp, `{"mediaId":"`+id+`"}`), "")
	s.want(t, CodeOK)
	info, _, _ = c.Decrypt(s.json.Get("encrypt").Str)
	if gjson.GetBytes(info, "size").Int() != int64(len(data)) {
		t.Fatalf("search %s", info)
	}
	h.post("/cgi/media/get?accessToken="+tok, h.seal(testApp, `{"mediaId":"nope"}`), "").want(t, CodeMediaMissing)
}

func TestMediaUploadErrors(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.token(testApp)
	h.upload(tok, testApp, `{"type":"exe","name":"a"}`, []byte("x")).want(t, CodeBadFileType)
	h.post("/cgi/media/upload?accessToken="+tok, "not multipart", "text/plain").want(t, CodeBadMultipart)
	h.upload("bad", testApp, `{"type":"file","name":"a"}`, []byte("x")).want(t, CodeTokenNotExist)
	// A token of another app.
	h.upload(h.token(otherApp), testApp, `{"type":"file","name":"a"}`, []byte("x")).want(t, CodeBadAppID)
	if n := h.e.Core().Media.Len(); n != 0 {
		t.Fatalf("%d files stored", n)
	}
}
