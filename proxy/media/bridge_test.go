package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/sdk/abi"
)

// fakeVendor records uploads and serves downloads from memory.
type fakeVendor struct {
	name, dialect string
	mu            sync.Mutex
	uploads       []upstream.MediaFile
	files         map[string]upstream.MediaFile
	fail          error
	n             atomic.Int64
}

func (v *fakeVendor) Name() string    { return v.name }
func (v *fakeVendor) Dialect() string { return v.dialect }

func (v *fakeVendor) UploadMedia(_ context.Context, _ time.Time, f *upstream.MediaFile) (upstream.MediaRef, error) {
	if v.fail != nil {
		return upstream.MediaRef{}, v.fail
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.uploads = append(v.uploads, *f)
	id := v.dialect + "-" + strconv.Itoa(len(v.uploads))
	switch v.dialect {
	case Youdu:
		return upstream.MediaRef{ID: id}, nil
	case Easemob:
		return upstream.MediaRef{ID: id, URL: "http://em.test/org/app/chatfiles/" + id, Secret: "s3cret"}, nil
	}
	return upstream.MediaRef{URL: "http://nos.test/" + id}, nil
}

func (v *fakeVendor) DownloadMedia(_ context.Context, _ time.Time, ref upstream.MediaRef, limit int64) (upstream.MediaFile, error) {
	v.n.Add(1)
	f, ok := v.files[ref.ID]
	if !ok {
		return upstream.MediaFile{}, errors.New("no such media")
	}
	if int64(len(f.Data)) > limit {
		return upstream.MediaFile{}, &upstream.TooLargeError{Limit: limit}
	}
	return f, nil
}

func (v *fakeVendor) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.uploads)
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// files serves path → (content type, bytes) on loopback and counts hits.
type files struct {
	srv  *httptest.Server
	hits atomic.Int64
	port string
}

func serveFiles(t *testing.T, m map[string][2]string) *files {
	t.Helper()
	f := &files{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://elsewhere.test/x.png", http.StatusFound)
			return
		}
		e, ok := m[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", e[0])
		_, _ = w.Write([]byte(e[1]))
	}))
	t.Cleanup(f.srv.Close)
	_, f.port, _ = net.SplitHostPort(f.srv.Listener.Addr().String())
	return f
}

func (f *files) url(host, p string) string { return "http://" + net.JoinHostPort(host, f.port) + p }

func batchOf(msgs ...string) []byte {
	return []byte(`{"v":1,"messages":[` + strings.Join(msgs, ",") + `]}`)
}

func mediaMsg(kind, media string) string {
	return `{"kind":"` + kind + `","to":{"users":["bob"]},"media":` + media + `}`
}

func loopbackBridge(cfg Config) *Bridge {
	cfg.AllowHosts = append(cfg.AllowHosts, "127.0.0.1")
	cfg.AllowPrivate = append(cfg.AllowPrivate, "127.0.0.1")
	return New(cfg)
}

func TestNeeds(t *testing.T) {
	cases := []struct {
		dialect, kind, media string
		rehost, want         bool
	}{
		{Youdu, "image", `{"url":"http://x/a.png"}`, false, true},
		{Youdu, "file", `{"url":"http://x/a.pdf"}`, false, true},
		{Youdu, "image", `{"media_id":"1","media_vendor":"youdu"}`, false, false},
		{Youdu, "audio", `{"url":"http://x/a.aac"}`, false, false}, // Youdu app messages have no voice
		{Netease, "image", `{"url":"http://x/a.png"}`, false, false},
		{Netease, "image", `{"url":"http://x/a.png"}`, true, true},
		{Netease, "video", `{"media_id":"9","media_vendor":"youdu"}`, false, true},
		{Easemob, "file", `{"media_id":"9","media_vendor":"youdu"}`, false, true},
		{Easemob, "image", `{"url":"http://em/c/1","media_vendor":"easemob"}`, true, false},
		{"getsender", "image", `{"media_id":"9","media_vendor":"youdu"}`, false, false},
	}
	for _, c := range cases {
		if got := Needs(c.dialect, c.kind, gjson.Parse(c.media), c.rehost); got != c.want {
			t.Errorf("Needs(%s, %s, %s, %v) = %v, want %v", c.dialect, c.kind, c.media, c.rehost, got, c.want)
		}
	}
}

func TestURLToYoudu(t *testing.T) {
	img := pngBytes(t, 3, 2)
	fs := serveFiles(t, map[string][2]string{"/pics/cat.png": {"image/png", string(img)}})
	b := loopbackBridge(Config{})
	target := &fakeVendor{name: "yd", dialect: Youdu}
	in := batchOf(mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/pics/cat.png")+`"}`), `{"kind":"text","text":"hi"}`)
	out, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target}, in)
	if ge != nil {
		t.Fatal(ge)
	}
	m := gjson.GetBytes(out, "messages.0.media")
	if m.Get("media_id").Str != "youdu-1" || m.Get("media_vendor").Str != Youdu {
		t.Fatalf("media %s", m.Raw)
	}
	if m.Get("width").Int() != 3 || m.Get("height").Int() != 2 || m.Get("size").Int() != int64(len(img)) ||
		len(m.Get("md5").Str) != 32 || m.Get("name").Str != "cat.png" || m.Get("ext").Str != "png" || m.Get("mime").Str != "image/png" {
		t.Fatalf("metadata %s", m.Raw)
	}
	if got := target.uploads[0]; got.Kind != "image" || got.Name != "cat.png" || !bytes.Equal(got.Data, img) {
		t.Fatalf("upload %+v", got.Name)
	}
	if gjson.GetBytes(out, "messages.1").Raw != `{"kind":"text","text":"hi"}` {
		t.Fatalf("text message changed: %s", out)
	}
}

func TestSameImageUploadsOnce(t *testing.T) {
	img := pngBytes(t, 8, 8)
	fs := serveFiles(t, map[string][2]string{"/a.png": {"image/png", string(img)}})
	b := loopbackBridge(Config{})
	target := &fakeVendor{name: "yd", dialect: Youdu}
	u := fs.url("127.0.0.1", "/a.png")
	msgs := make([]string, 100)
	for i := range msgs {
		msgs[i] = mediaMsg("image", `{"url":"`+u+`"}`)
	}
	batch := batchOf(msgs...)
	var wg sync.WaitGroup
	errs := make(chan *abi.GuestError, 10)
	for range 10 { // 10 concurrent requests × 100 recipients' messages
		wg.Go(func() {
			out, ge := b.Apply(context.Background(), time.Now().Add(10*time.Second), &Route{Target: target}, batch)
			if ge == nil && gjson.GetBytes(out, "messages.99.media.media_id").Str != "youdu-1" {
				ge = &abi.GuestError{Message: "not rewritten: " + string(out[:80])}
			}
			errs <- ge
		})
	}
	wg.Wait()
	close(errs)
	for ge := range errs {
		if ge != nil {
			t.Fatal(ge)
		}
	}
	if n := target.count(); n != 1 {
		t.Fatalf("%d uploads, want 1", n)
	}
	if n := fs.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	if s := b.Stats(); s.Uploads != 1 || s.CacheHits < 900 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRefusals(t *testing.T) {
	img := pngBytes(t, 2, 2)
	fs := serveFiles(t, map[string][2]string{
		"/a.png":   {"image/png", string(img)},
		"/big.bin": {"application/octet-stream", strings.Repeat("x", 2048)},
		"/page":    {"text/html", "<html><body>not an image</body></html>"},
	})
	target := &fakeVendor{name: "yd", dialect: Youdu}
	cases := []struct {
		name string
		cfg  Config
		msg  string
		code abi.Code
	}{
		{"disallowed host", Config{AllowHosts: []string{"files.example.com"}}, mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/a.png")+`"}`), abi.CodeForbidden},
		{"private address", Config{AllowHosts: []string{"localhost"}}, mediaMsg("image", `{"url":"`+fs.url("localhost", "/a.png")+`"}`), abi.CodeForbidden},
		{"literal loopback", Config{AllowHosts: []string{"127.0.0.1"}}, mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/a.png")+`"}`), abi.CodeForbidden},
		{"oversize", Config{AllowHosts: []string{"127.0.0.1"}, AllowPrivate: []string{"127.0.0.1"}, MaxBytes: map[string]int64{"file": 1024}},
			mediaMsg("file", `{"url":"`+fs.url("127.0.0.1", "/big.bin")+`"}`), abi.CodeTooLarge},
		{"wrong type", Config{AllowHosts: []string{"127.0.0.1"}, AllowPrivate: []string{"127.0.0.1"}}, mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/page")+`"}`), abi.CodeBadRequest},
		{"redirect elsewhere", Config{AllowHosts: []string{"127.0.0.1"}, AllowPrivate: []string{"127.0.0.1"}}, mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/redirect")+`"}`), abi.CodeForbidden},
		{"not found", Config{AllowHosts: []string{"127.0.0.1"}, AllowPrivate: []string{"127.0.0.1"}}, mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/nope.png")+`"}`), abi.CodeBadRequest},
		{"no source", Config{}, mediaMsg("image", `{"media_id":"x","media_vendor":"netease"}`), abi.CodeBadRequest},
		{"scheme", Config{AllowHosts: []string{"127.0.0.1"}}, mediaMsg("file", `{"url":"file:///etc/passwd"}`), abi.CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := New(c.cfg)
			in := batchOf(`{"kind":"text","text":"first"}`, c.msg)
			out, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target}, in)
			if ge == nil || ge.Code != c.code || ge.Field != "messages[1].media" {
				t.Fatalf("got %v, want %s on messages[1].media", ge, c.code)
			}
			if strings.Contains(ge.Message, "127.0.0.1") || strings.Contains(ge.Message, "http") {
				t.Fatalf("message leaks the URL: %q", ge.Message)
			}
			if !bytes.Equal(out, in) {
				t.Fatal("batch changed on failure")
			}
			// degrade: the media is left for the codec's fallback.
			out, ge = b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target, Degrade: true}, in)
			if ge != nil || !bytes.Equal(out, in) {
				t.Fatalf("degrade: %v %s", ge, out)
			}
		})
	}
	if target.count() != 0 {
		t.Fatalf("%d uploads", target.count())
	}
}

func TestUploadFailure(t *testing.T) {
	fs := serveFiles(t, map[string][2]string{"/a.pdf": {"application/pdf", "%PDF-1.4 x"}})
	b := loopbackBridge(Config{})
	target := &fakeVendor{name: "ne", dialect: Netease, fail: errors.New("upload.action: code 414 with a token abc")}
	_, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target, Rehost: true},
		batchOf(mediaMsg("file", `{"url":"`+fs.url("127.0.0.1", "/a.pdf")+`"}`)))
	if ge == nil || ge.Code != abi.CodeUpstream || strings.Contains(ge.Message, "abc") {
		t.Fatalf("got %v", ge)
	}
}

func TestYouduIDToOthers(t *testing.T) {
	img := pngBytes(t, 4, 5)
	src := &fakeVendor{name: "yd", dialect: Youdu, files: map[string]upstream.MediaFile{
		"m1": {Name: "photo.png", Data: img},
		"m2": {Name: "doc.pdf", Data: []byte("%PDF-1.4 doc")},
	}}
	b := New(Config{})
	for _, d := range []string{Netease, Easemob} {
		target := &fakeVendor{name: d, dialect: d}
		rt := &Route{Target: target, Sources: map[string]Vendor{Youdu: src}}
		in := batchOf(mediaMsg("image", `{"media_id":"m1","media_vendor":"youdu"}`), mediaMsg("file", `{"media_id":"m2","media_vendor":"youdu"}`))
		out, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), rt, in)
		if ge != nil {
			t.Fatal(d, ge)
		}
		m := gjson.GetBytes(out, "messages.0.media")
		if m.Get("media_vendor").Str != d || !strings.HasPrefix(m.Get("url").Str, "http://") ||
			m.Get("width").Int() != 4 || m.Get("name").Str != "photo.png" {
			t.Fatalf("%s: %s", d, m.Raw)
		}
		if d == Easemob && m.Get("secret").Str != "s3cret" {
			t.Fatalf("easemob secret missing: %s", m.Raw)
		}
		if d == Netease && m.Get("media_id").Exists() {
			t.Fatalf("netease keeps the foreign id: %s", m.Raw)
		}
		if f := gjson.GetBytes(out, "messages.1.media"); f.Get("ext").Str != "pdf" || f.Get("size").Int() != 12 {
			t.Fatalf("file %s", f.Raw)
		}
		if target.count() != 2 {
			t.Fatalf("%s: %d uploads", d, target.count())
		}
	}
	// Without the source's credentials the id cannot be resolved.
	_, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: &fakeVendor{name: "x", dialect: Netease}},
		batchOf(mediaMsg("image", `{"media_id":"m1","media_vendor":"youdu"}`)))
	if ge == nil || ge.Code != abi.CodeBadRequest {
		t.Fatalf("got %v", ge)
	}
}

func TestInternalAddresses(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1", "fc00::1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1"} {
		if !internal(netip.MustParseAddr(s)) {
			t.Errorf("%s not internal", s)
		}
	}
	for _, s := range []string{"93.184.216.34", "2606:2800:220:1::1"} {
		if internal(netip.MustParseAddr(s)) {
			t.Errorf("%s internal", s)
		}
	}
}

func TestCheckType(t *testing.T) {
	img := pngBytes(t, 1, 1)
	cases := []struct {
		kind, declared string
		data           []byte
		want           string
		err            bool
	}{
		{"image", "application/octet-stream", img, "image/png", false},
		{"image", "image/jpeg", img, "image/png", false},
		{"image", "image/png", []byte("<html>"), "", true},
		{"audio", "audio/aac", []byte{0xFF, 0xF1, 0, 0}, "audio/aac", false},
		{"audio", "", []byte{0xFF, 0xF1, 0, 0}, "application/octet-stream", false},
		{"audio", "text/plain", []byte("hello"), "", true},
		{"video", "video/mp4", mp4(1000, 5000), "video/mp4", false},
		{"video", "image/png", img, "", true},
		{"file", "", []byte("%PDF-1.4"), "application/pdf", false},
	}
	for _, c := range cases {
		got, err := checkType(c.kind, c.declared, c.data)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("checkType(%s, %s) = %q, %v", c.kind, c.declared, got, err)
		}
	}
}

func mp4(scale, dur uint32) []byte {
	mvhd := make([]byte, 8+100)
	binary.BigEndian.PutUint32(mvhd, uint32(len(mvhd)))
	copy(mvhd[4:], "mvhd")
	binary.BigEndian.PutUint32(mvhd[8+12:], scale)
	binary.BigEndian.PutUint32(mvhd[8+16:], dur)
	moov := append(binary.BigEndian.AppendUint32(nil, uint32(8+len(mvhd))), "moov"...)
	moov = append(moov, mvhd...)
	ftyp := append(binary.BigEndian.AppendUint32(nil, 16), "ftypisom\x00\x00\x02\x00"...)
	return append(ftyp, moov...)
}

func TestDurations(t *testing.T) {
	if d := durationMS(mp4(600, 4500)); d != 7500 {
		t.Errorf("mp4: %d", d)
	}
	// WAV: 8000 bytes/s, 12000 data bytes = 1.5 s.
	wav := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	wav = binary.LittleEndian.AppendUint32(wav, 16)
	wav = append(wav, 1, 0, 1, 0)
	wav = binary.LittleEndian.AppendUint32(wav, 8000)
	wav = binary.LittleEndian.AppendUint32(wav, 8000)
	wav = append(wav, 1, 0, 8, 0)
	wav = append(wav, "data"...)
	wav = binary.LittleEndian.AppendUint32(wav, 12000)
	wav = append(wav, make([]byte, 12000)...)
	if d := durationMS(wav); d != 1500 {
		t.Errorf("wav: %d", d)
	}
	// ADTS: 16 kHz (index 8), 50 frames of 10 bytes = 50*1024/16000 s = 3200 ms.
	var aac []byte
	for range 50 {
		n := 10
		aac = append(aac, 0xFF, 0xF1, 8<<2, byte(n>>11)&3, byte(n>>3), byte(n&7)<<5|0x1F, 0xFC, 0, 0, 0)
	}
	if d := durationMS(aac); d != 3200 {
		t.Errorf("adts: %d", d)
	}
	if d := durationMS([]byte("nothing")); d != 0 {
		t.Errorf("junk: %d", d)
	}
}

func TestDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	b := New(Config{AllowHosts: []string{"127.0.0.1"}, AllowPrivate: []string{"127.0.0.1"}, Timeout: 200 * time.Millisecond})
	_, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: &fakeVendor{name: "yd", dialect: Youdu}},
		batchOf(mediaMsg("image", `{"url":"`+srv.URL+`/a.png"}`)))
	if ge == nil || (ge.Code != abi.CodeBadRequest && ge.Code != abi.CodeTimeout) {
		t.Fatalf("got %v", ge)
	}
}

func TestHostListPorts(t *testing.T) {
	l := newHostList([]string{"files.example.com", "127.0.0.1:8081", "*.cdn.example.com", "[::1]:9000"})
	for _, c := range []struct {
		host, port string
		want       bool
	}{
		{"files.example.com", "443", true}, {"FILES.example.com.", "80", true},
		{"127.0.0.1", "8081", true}, {"127.0.0.1", "8082", false},
		{"a.cdn.example.com", "443", true}, {"cdn.example.com", "443", false},
		{"::1", "9000", true}, {"::1", "9001", false}, {"evil.com", "443", false},
	} {
		if got := l.has(c.host, c.port); got != c.want {
			t.Errorf("has(%s, %s) = %v", c.host, c.port, got)
		}
	}
}

func TestPortScopedPrivate(t *testing.T) {
	img := pngBytes(t, 2, 2)
	fs := serveFiles(t, map[string][2]string{"/a.png": {"image/png", string(img)}})
	hp := "127.0.0.1:" + fs.port
	target := &fakeVendor{name: "yd", dialect: Youdu}
	in := batchOf(mediaMsg("image", `{"url":"`+fs.url("127.0.0.1", "/a.png")+`"}`))
	// Allowed on its own port only: fetched.
	b := New(Config{AllowHosts: []string{hp}, AllowPrivate: []string{hp}})
	if _, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target}, in); ge != nil {
		t.Fatal(ge)
	}
	// Another port of the same address: refused.
	b = New(Config{AllowHosts: []string{"127.0.0.1:1"}, AllowPrivate: []string{"127.0.0.1:1"}})
	if _, ge := b.Apply(context.Background(), time.Now().Add(5*time.Second), &Route{Target: target}, in); ge == nil || ge.Code != abi.CodeForbidden {
		t.Fatalf("got %v", ge)
	}
}
