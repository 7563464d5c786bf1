package easemob

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sandbox/emu"
)

func multipartFile(t *testing.T, name string, data []byte) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	return b.String(), w.FormDataContentType()
}

func TestChatfilesRoundTrip(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	data := []byte("\x89PNG fake image bytes")
	body, ct := multipartFile(t, "a.png", data)
	r := f.call("POST", "/imrelay/demo/chatfiles", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": ct, "restrict-access": "true",
	}, body)
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	ent := r.m["entities"].([]any)[0].(map[string]any)
	uuid, secret := ent["uuid"].(string), ent["share-secret"].(string)
	if uuid == "" || secret == "" || !strings.HasSuffix(r.m["uri"].(string), "/imrelay/demo/chatfiles") {
		t.Fatalf("answer %s", r.raw)
	}
	// The upload is in the inbox with the bytes' md5.
	ups := f.e.Core().Inbox.List(emu.Filter{Type: emu.MediaType})
	if len(ups) != 1 || ups[0].ID != uuid || !strings.Contains(string(ups[0].Body), `"size":21`) {
		t.Fatalf("inbox %+v", ups)
	}
	if strings.Contains(string(ups[0].Body), secret) {
		t.Fatal("inbox shows the share-secret")
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	if r := f.call("GET", "/imrelay/demo/chatfiles/"+uuid, auth, ""); r.status != 401 {
		t.Fatalf("restricted download without secret: %d", r.status)
	}
	auth["share-secret"] = secret
	if r := f.call("GET", "/imrelay/demo/chatfiles/"+uuid, auth, ""); r.status != 200 || r.raw != string(data) {
		t.Fatalf("download: %d %q", r.status, r.raw)
	}
	if r := f.call("GET", "/imrelay/demo/chatfiles/nope", auth, ""); r.status != 404 {
		t.Fatalf("missing: %d", r.status)
	}
	// Without a token: 401.
	if r := f.call("GET", "/imrelay/demo/chatfiles/"+uuid, nil, ""); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
}

func TestChatfilesErrors(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	big, ct := multipartFile(t, "big.bin", make([]byte, MaxChatFile+1))
	r := f.call("POST", "/imrelay/demo/chatfiles", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": ct}, big)
	f.wantErr(r, 413, "file exceeding maximum limit", "the file size exceeds the maximum limit.")
	r = f.call("POST", "/imrelay/demo/chatfiles", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, "{}")
	f.wantErr(r, 400, "illegal_argument", "file must be provided.")
	if n := f.e.Core().Media.Len(); n != 0 {
		t.Fatalf("%d files stored", n)
	}
}
