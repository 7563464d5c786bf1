package netease

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

func TestUploadAndDownload(t *testing.T) {
	h := newHarness(t, nil)
	data := []byte("voice bytes, aac")
	a := h.v1("upload.action", url.Values{"content": {base64.StdEncoding.EncodeToString(data)}, "type": {"audio/aac"}})
	a.wantCode(t, v1, CodeOK, "")
	u := a.json.Get("url").Str
	if !strings.HasPrefix(u, "http://nim.test/nos/") {
		t.Fatalf("url %q", u)
	}
	ups := h.e.Core().Inbox.List(emu.Filter{Type: emu.MediaType})
	if len(ups) != 1 || !strings.Contains(string(ups[0].Body), `"size":16`) {
		t.Fatalf("inbox %+v", ups)
	}
	g := h.do(call{method: fasthttp.MethodGet, uri: strings.TrimPrefix(u, "http://nim.test"), unsigned: true})
	if g.status != 200 || g.body != string(data) {
		t.Fatalf("download %d %q", g.status, g.body)
	}
	if g := h.do(call{method: fasthttp.MethodGet, uri: "/nos/0", unsigned: true}); g.status != 404 {
		t.Fatalf("missing: %d", g.status)
	}
	h.v1("upload.action", url.Values{"type": {"x"}}).wantCode(t, v1, CodeParam, "content is empty")
	h.v1("upload.action", url.Values{"content": {"!!"}}).wantCode(t, v1, CodeParam, "content is not base64")
}
