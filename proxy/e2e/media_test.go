package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// mediaFiles are the attachments a team's clients point at, served on
// loopback: what the bridge fetches.
type mediaFiles struct {
	srv   *httptest.Server
	port  string
	hits  atomic.Int64
	bytes map[string][]byte
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	must(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))))
	return b.Bytes()
}

// testAAC is an ADTS stream: 16 kHz, 25 frames = 1600 ms.
func testAAC() []byte {
	var b []byte
	for range 25 {
		n := 12
		b = append(b, 0xFF, 0xF1, 8<<2, byte(n>>11)&3, byte(n>>3), byte(n&7)<<5|0x1F, 0xFC, 1, 2, 3, 4, 5)
	}
	return b
}

// testMP4 is an MP4 header whose mvhd says 2500 ms.
func testMP4() []byte {
	mvhd := make([]byte, 108)
	binary.BigEndian.PutUint32(mvhd, 108)
	copy(mvhd[4:], "mvhd")
	binary.BigEndian.PutUint32(mvhd[20:], 1000)
	binary.BigEndian.PutUint32(mvhd[24:], 2500)
	moov := append(binary.BigEndian.AppendUint32(nil, 116), "moov"...)
	ftyp := append(binary.BigEndian.AppendUint32(nil, 16), "ftypisom\x00\x00\x02\x00"...)
	return append(append(ftyp, moov...), mvhd...)
}

func serveMedia(t *testing.T) *mediaFiles {
	t.Helper()
	m := &mediaFiles{bytes: map[string][]byte{
		"/cat.png":   testPNG(t, 6, 4),
		"/hello.aac": testAAC(),
		"/clip.mp4":  testMP4(),
		"/doc.pdf":   []byte("%PDF-1.4 a small document"),
		"/huge.pdf":  append([]byte("%PDF-1.4 "), make([]byte, 200<<10)...),
	}}
	types := map[string]string{".png": "image/png", ".aac": "audio/aac", ".mp4": "video/mp4", ".pdf": "application/pdf"}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		b, ok := m.bytes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", types[r.URL.Path[strings.LastIndexByte(r.URL.Path, '.'):]])
		_, _ = w.Write(b)
	}))
	t.Cleanup(m.srv.Close)
	_, m.port, _ = net.SplitHostPort(m.srv.Listener.Addr().String())
	return m
}

func (m *mediaFiles) url(host, p string) string {
	return "http://" + net.JoinHostPort(host, m.port) + p
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// mediaRequest is a client's native request with one attachment.
func mediaRequest(in, kind, rcpt, u, name string) (string, string) {
	q := func(s string) string { return strconv.Quote(s) }
	switch in {
	case config.Getsender:
		typ := map[string]int{"image": 2, "audio": 3, "video": 4}[kind]
		return "/sender/v1/handleBusinessMessage", fmt.Sprintf(`{"messageType":%d,"from":"alice","userId":%s,"isDisturb":false,"messageInfo":{"url":%s,"filename":%s,"length":2}}`, typ, q(rcpt), q(u), q(name))
	case config.Opapp:
		typ := map[string]string{"image": "img", "audio": "audio", "video": "video", "file": "file"}[kind]
		return "/opapp/send2EasemobMessage", fmt.Sprintf(`{"reqUrl":"/hxSend/send2EasemobMessage","messages":[{"msgType":%s,"msgBody":{"fromUser":"alice","toUser":%s,"msgType":%s,"mediaFile":%s,"targetType":"users"},"fileUrl":%s}]}`, q(typ), q(rcpt), q(typ), q(name), q(u))
	case config.Easemob:
		typ := map[string]string{"image": "img", "audio": "audio", "video": "video", "file": "file"}[kind]
		return "/" + emOrg + "/" + emApp + "/messages/users", fmt.Sprintf(`{"from":"alice","to":[%s],"type":%s,"body":{"url":%s,"filename":%s,"length":2}}`, q(rcpt), q(typ), q(u), q(name))
	}
	return "", ""
}

// mediaEnv is the relay with the bridge allowed to fetch from loopback
// and re-hosting on the Easemob and NetEase routes.
func mediaEnv(t *testing.T, policy string) *env {
	return newEnv(t, func(c *config.Config) {
		c.Media = config.Media{
			AllowHosts:   []string{"127.0.0.1", "localhost"},
			AllowPrivate: []string{"127.0.0.1"},
			MaxBytes:     map[string]config.Size{"file": 64 << 10},
		}
		for i := range c.Routes {
			r := &c.Routes[i]
			r.Media.Rehost = r.Target == config.Netease || r.Target == config.Easemob
			if policy != "" {
				r.Policy = policy
			}
		}
	})
}

func uploads(e *env, vendor string) []emu.Message {
	return e.vendors[vendor].core.Inbox.List(emu.Filter{Type: emu.MediaType})
}

// TestMediaBridgeToYoudu: images and files from URL clients reach Youdu as
// media ids of files uploaded with the relay's Youdu app; voice and video
// (which Youdu app messages cannot carry) are degraded to links.
func TestMediaBridgeToYoudu(t *testing.T) {
	e := mediaEnv(t, "")
	fs := serveMedia(t)
	for _, in := range []string{config.Getsender, config.Opapp, config.Easemob} {
		for _, c := range []struct{ kind, path, typ string }{
			{"image", "/cat.png", "image"}, {"audio", "/hello.aac", "link"}, {"video", "/clip.mp4", "link"}, {"file", "/doc.pdf", "file"},
		} {
			if in == config.Getsender && c.kind == "file" {
				continue // getsender has no file message
			}
			rcpt := "yd-" + in + "-" + c.kind
			path, body := mediaRequest(in, c.kind, rcpt, fs.url("127.0.0.1", c.path), c.path[1:])
			a := e.send(in, config.Youdu, good, path, body)
			if !accepted(in, a, rcpt) {
				t.Fatalf("%s %s -> youdu: %d %s", in, c.kind, a.status, a.body)
			}
			got := e.inbox(config.Youdu, rcpt)
			if len(got) != 1 || got[0].Type != c.typ {
				t.Fatalf("%s %s: youdu inbox %+v", in, c.kind, got)
			}
			if c.typ == "link" {
				continue
			}
			id := gjson.GetBytes(got[0].Body, c.typ+".media_id").Str
			meta, data, ok := e.vendors[config.Youdu].core.Media.Get(id)
			if !ok || !bytes.Equal(data, fs.bytes[c.path]) || meta.Kind != c.kind && !(c.kind == "file" && meta.Kind == "file") {
				t.Fatalf("%s %s: media %q: %+v", in, c.kind, id, meta)
			}
		}
	}
	// Each distinct file was uploaded once for all three clients.
	if n := len(uploads(e, config.Youdu)); n != 2 {
		t.Fatalf("%d youdu uploads, want 2 (the image and the file)", n)
	}
}

// TestMediaBridgeToNetease: with rehost, every kind is uploaded with
// upload.action and the attachment carries NetEase's URL and the metadata
// computed from the bytes.
func TestMediaBridgeToNetease(t *testing.T) {
	e := mediaEnv(t, "")
	fs := serveMedia(t)
	for _, in := range []string{config.Getsender, config.Opapp, config.Easemob} {
		for _, c := range []struct{ kind, path, typ string }{
			{"image", "/cat.png", "1"}, {"audio", "/hello.aac", "2"}, {"video", "/clip.mp4", "3"}, {"file", "/doc.pdf", "6"},
		} {
			if in == config.Getsender && c.kind == "file" {
				continue
			}
			rcpt := "ne-" + in + "-" + c.kind
			path, body := mediaRequest(in, c.kind, rcpt, fs.url("127.0.0.1", c.path), c.path[1:])
			a := e.send(in, config.Netease, good, path, body)
			if !accepted(in, a, rcpt) {
				t.Fatalf("%s %s -> netease: %d %s", in, c.kind, a.status, a.body)
			}
			got := e.inbox(config.Netease, rcpt)
			if len(got) != 1 || got[0].Type != c.typ {
				t.Fatalf("%s %s: netease inbox %+v", in, c.kind, got)
			}
			att := gjson.GetBytes(got[0].Body, "message.attachment")
			if !strings.HasPrefix(att.Get("url").Str, e.vendors[config.Netease].url+"/nos/") ||
				att.Get("md5").Str != md5hex(fs.bytes[c.path]) || att.Get("size").Int() != int64(len(fs.bytes[c.path])) {
				t.Fatalf("%s %s: attachment %s", in, c.kind, att.Raw)
			}
			if c.kind == "image" && (att.Get("width").Int() != 6 || att.Get("height").Int() != 4) {
				t.Fatalf("%s image dimensions: %s", in, att.Raw)
			}
		}
	}
	if n := len(uploads(e, config.Netease)); n != 4 {
		t.Fatalf("%d netease uploads, want 4", n)
	}
}

// youduUpload stores data in the Youdu sandbox with the vendor app, as a
// Youdu client's own upload would, and returns the media id.
func youduUpload(t *testing.T, e *env, typ, name string, data []byte) string {
	t.Helper()
	c, err := auth.NewYouduCipher(vYdKey)
	must(t, err)
	cli := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	env, _ := c.Encrypt([]byte(strconv.FormatInt(timeNow(), 10)), vYdApp)
	req.SetRequestURI(e.vendors[config.Youdu].url + "/cgi/gettoken")
	req.Header.SetMethod("POST")
	req.SetBodyString(fmt.Sprintf(`{"buin":%d,"appId":%q,"encrypt":%q}`, vYdBuin, vYdApp, env))
	must(t, cli.Do(req, resp))
	plain, _, err := c.Decrypt(gjson.GetBytes(resp.Body(), "encrypt").Str)
	must(t, err)
	tok := gjson.GetBytes(plain, "accessToken").Str

	meta, _ := c.Encrypt([]byte(fmt.Sprintf(`{"type":%q,"name":%q}`, typ, name)), vYdApp)
	file, _ := c.Encrypt(data, vYdApp)
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("buin", strconv.Itoa(vYdBuin))
	_ = w.WriteField("appId", vYdApp)
	_ = w.WriteField("encrypt", meta)
	fw, _ := w.CreateFormFile("file", "file")
	_, _ = fw.Write([]byte(file))
	_ = w.Close()
	req.Reset()
	req.SetRequestURI(e.vendors[config.Youdu].url + "/cgi/media/upload?accessToken=" + tok)
	req.Header.SetMethod("POST")
	req.Header.SetContentType(w.FormDataContentType())
	req.SetBody(b.Bytes())
	must(t, cli.Do(req, resp))
	plain, _, err = c.Decrypt(gjson.GetBytes(resp.Body(), "encrypt").Str)
	if err != nil {
		t.Fatalf("youdu upload: %s", resp.Body())
	}
	return gjson.GetBytes(plain, "mediaId").Str
}

// TestMediaBridgeFromYoudu: a Youdu client's media id is downloaded with
// the relay's Youdu credentials and uploaded to Easemob and NetEase.
func TestMediaBridgeFromYoudu(t *testing.T) {
	e := mediaEnv(t, "")
	img := testPNG(t, 9, 7)
	pdf := []byte("%PDF-1.4 from youdu")
	imgID := youduUpload(t, e, "image", "shot.png", img)
	pdfID := youduUpload(t, e, "file", "report.pdf", pdf)
	for _, target := range []string{config.Easemob, config.Netease} {
		for _, c := range []struct{ typ, id string }{{"image", imgID}, {"file", pdfID}} {
			rcpt := "fy-" + target + "-" + c.typ
			body := fmt.Sprintf(`{"toUser":%q,"msgType":%q,%q:{"media_id":%q}}`, rcpt, c.typ, c.typ, c.id)
			a := e.send(config.Youdu, target, good, "/cgi/msg/send", body)
			if !accepted(config.Youdu, a, rcpt) {
				t.Fatalf("youdu %s -> %s: %d %s", c.typ, target, a.status, a.body)
			}
			got := e.inbox(target, rcpt)
			if len(got) != 1 {
				t.Fatalf("%s inbox %+v", target, got)
			}
			want := img
			if c.typ == "file" {
				want = pdf
			}
			ups := uploads(e, target)
			last := ups[len(ups)-1]
			if gjson.GetBytes(last.Body, "md5").Str != md5hex(want) {
				t.Fatalf("%s upload %s", target, last.Body)
			}
			b := string(got[0].Body)
			if !strings.Contains(b, last.ID) {
				t.Fatalf("%s message does not name the upload %s: %s", target, last.ID, b)
			}
			if target == config.Easemob && c.typ == "image" && gjson.Get(b, "body.secret").Str == "" {
				t.Fatalf("easemob message has no share-secret: %s", b)
			}
		}
	}
}

// TestMediaBridgeUploadsOnce: the same image to many recipients, in many
// requests, is fetched and uploaded once.
func TestMediaBridgeUploadsOnce(t *testing.T) {
	e := mediaEnv(t, "")
	fs := serveMedia(t)
	u := fs.url("127.0.0.1", "/cat.png")
	for i := range 30 {
		rcpt := "once" + strconv.Itoa(i)
		path, body := mediaRequest(config.Easemob, "image", rcpt, u, "cat.png")
		if a := e.send(config.Easemob, config.Youdu, good, path, body); !accepted(config.Easemob, a, rcpt) {
			t.Fatalf("%d: %d %s", i, a.status, a.body)
		}
	}
	if n := len(uploads(e, config.Youdu)); n != 1 {
		t.Fatalf("%d uploads, want 1", n)
	}
	if n := fs.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	if n := len(e.vendors[config.Youdu].core.Inbox.List(emu.Filter{Type: "image"})); n != 30 {
		t.Fatalf("%d image messages, want 30", n)
	}
}

// TestMediaBridgeRefusals: an oversize file, a disallowed host and a
// private address each get the client's own error naming the attachment,
// and nothing is uploaded or sent.
func TestMediaBridgeRefusals(t *testing.T) {
	e := mediaEnv(t, config.PolicyReject)
	fs := serveMedia(t)
	cases := []struct {
		name, kind, url string
		status          int    // Easemob's HTTP status
		errType         string // Easemob's error
	}{
		{"oversize", "file", fs.url("127.0.0.1", "/huge.pdf"), 413, "request_entity_too_large"},
		{"disallowed host", "image", "http://files.example.org:" + fs.port + "/cat.png", 403, "forbidden"},
		{"private address", "image", fs.url("localhost", "/cat.png"), 403, "forbidden"},
	}
	for _, c := range cases {
		rcpt := "ref-" + strings.ReplaceAll(c.name, " ", "-")
		path, body := mediaRequest(config.Easemob, c.kind, rcpt, c.url, "x")
		a := e.send(config.Easemob, config.Youdu, good, path, body)
		if a.status != c.status || gjson.Get(a.body, "error").Str != c.errType || !strings.Contains(a.body, "messages[0].media") {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
		if strings.Contains(a.body, fs.port) {
			t.Errorf("%s: the answer names the URL: %s", c.name, a.body)
		}
		if got := e.inbox(config.Youdu, rcpt); len(got) != 0 {
			t.Errorf("%s: sent anyway: %+v", c.name, got)
		}
		// The same refusal in the other URL dialects.
		for _, in := range []string{config.Getsender, config.Opapp} {
			if in == config.Getsender && c.kind == "file" {
				continue
			}
			path, body := mediaRequest(in, c.kind, rcpt, c.url, "x")
			if a := e.send(in, config.Youdu, good, path, body); accepted(in, a, rcpt) {
				t.Errorf("%s from %s accepted: %s", c.name, in, a.body)
			}
		}
	}
	if n := len(uploads(e, config.Youdu)); n != 0 {
		t.Fatalf("%d uploads", n)
	}
}

func timeNow() int64 { return time.Now().Unix() }

// TestMediaBridgeEasemobChatfile: an Easemob client's chatfile (restricted,
// with a share-secret) is downloaded with the relay's Easemob token and
// secret and uploaded to Youdu.
func TestMediaBridgeEasemobChatfile(t *testing.T) {
	e := mediaEnv(t, config.PolicyReject)
	base := e.vendors[config.Easemob].url + "/" + easemobDemoOrg + "/" + easemobDemoApp
	cli := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(base + "/token")
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyString(fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, easemobDemoID, easemobDemoSecret))
	must(t, cli.Do(req, resp))
	tok := gjson.GetBytes(resp.Body(), "access_token").Str
	img := testPNG(t, 5, 3)
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", "pic.png")
	_, _ = fw.Write(img)
	_ = w.Close()
	req.Reset()
	req.SetRequestURI(base + "/chatfiles")
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("restrict-access", "true")
	req.Header.SetContentType(w.FormDataContentType())
	req.SetBody(b.Bytes())
	must(t, cli.Do(req, resp))
	uri := gjson.GetBytes(resp.Body(), "uri").Str
	uuid := gjson.GetBytes(resp.Body(), "entities.0.uuid").Str
	secret := gjson.GetBytes(resp.Body(), "entities.0.share-secret").Str
	if uuid == "" || secret == "" {
		t.Fatalf("chatfiles: %s", resp.Body())
	}
	body := fmt.Sprintf(`{"from":"alice","to":["cf1"],"type":"img","body":{"url":%q,"filename":"pic.png","secret":%q}}`, uri+"/"+uuid, secret)
	a := e.send(config.Easemob, config.Youdu, good, "/"+emOrg+"/"+emApp+"/messages/users", body)
	if !accepted(config.Easemob, a, "cf1") {
		t.Fatalf("easemob chatfile -> youdu: %d %s", a.status, a.body)
	}
	got := e.inbox(config.Youdu, "cf1")
	if len(got) != 1 || got[0].Type != "image" {
		t.Fatalf("youdu inbox %+v", got)
	}
	_, data, ok := e.vendors[config.Youdu].core.Media.Get(gjson.GetBytes(got[0].Body, "image.media_id").Str)
	if !ok || !bytes.Equal(data, img) {
		t.Fatal("youdu did not get the chatfile's bytes")
	}
}

const (
	easemobDemoOrg    = easemob.DemoOrg
	easemobDemoApp    = easemob.DemoApp
	easemobDemoID     = easemob.DemoClientID
	easemobDemoSecret = easemob.DemoClientSecret
)
