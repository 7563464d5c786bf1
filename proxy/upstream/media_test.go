package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/netease"
	"github.com/imrelay/imrelay/sandbox/youdu"
)

func TestYouduMediaRoundTrip(t *testing.T) {
	em, err := youdu.New(youdu.Config{Buin: 666666, Apps: []youdu.App{{ID: youduApp, EncodingAESKey: youduKey}}})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	b := upstream.NewBroker(upstream.BrokerConfig{})
	p := provider(t, &config.Provider{Dialect: config.Youdu, BaseURL: v.url, Credentials: config.Credentials{
		Buin: 666666, AppID: youduApp, AESKey: config.SecretValue(youduKey),
	}}, upstream.Options{Broker: b})
	data := []byte("GIF89a a picture")
	// A forced token expiry on the upload is retried once with a new token.
	if err := v.core.Faults.Set(emu.Faults{ExpireTokens: 1}); err != nil {
		t.Fatal(err)
	}
	ref, err := p.UploadMedia(context.Background(), deadline(), &upstream.MediaFile{Kind: "audio", Name: "a.gif", Data: data})
	if err != nil || ref.ID == "" {
		t.Fatalf("upload: %v %+v", err, ref)
	}
	m, stored, ok := v.core.Media.Get(ref.ID)
	if !ok || !bytes.Equal(stored, data) || m.Kind != "voice" || m.Name != "a.gif" {
		t.Fatalf("stored %+v", m)
	}
	f, err := p.DownloadMedia(context.Background(), deadline(), ref, 1<<20)
	if err != nil || !bytes.Equal(f.Data, data) || f.Name != "a.gif" {
		t.Fatalf("download: %v %+v", err, f.Name)
	}
	var tl *upstream.TooLargeError
	if _, err := p.DownloadMedia(context.Background(), deadline(), ref, 4); !errors.As(err, &tl) {
		t.Fatalf("limit: %v", err)
	}
	_, err = p.DownloadMedia(context.Background(), deadline(), upstream.MediaRef{ID: "nope"}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "200010") || strings.Contains(err.Error(), "accessToken=") {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestEasemobMediaRoundTrip(t *testing.T) {
	em, err := easemob.New(easemob.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	p := easemobProvider(t, v, nil)
	data := []byte("%PDF-1.4 doc")
	ref, err := p.UploadMedia(context.Background(), deadline(), &upstream.MediaFile{Kind: "file", Name: "d.pdf", ContentType: "application/pdf", Data: data})
	if err != nil || ref.ID == "" || ref.Secret == "" || !strings.HasSuffix(ref.URL, "/chatfiles/"+ref.ID) {
		t.Fatalf("upload: %v %+v", err, ref)
	}
	if !p.OwnsMediaURL(ref.URL) || p.OwnsMediaURL("http://elsewhere/chatfiles/"+ref.ID) || p.OwnsMediaURL(ref.URL+"/x") {
		t.Fatal("OwnsMediaURL")
	}
	f, err := p.DownloadMedia(context.Background(), deadline(), upstream.MediaRef{URL: ref.URL, Secret: ref.Secret}, 1<<20)
	if err != nil || !bytes.Equal(f.Data, data) {
		t.Fatalf("download: %v", err)
	}
	// Without the share-secret the restricted file is refused.
	if _, err := p.DownloadMedia(context.Background(), deadline(), upstream.MediaRef{ID: ref.ID}, 1<<20); err == nil {
		t.Fatal("restricted download without secret succeeded")
	}
}

func TestNeteaseUpload(t *testing.T) {
	em, err := netease.New(netease.Config{AppKey: "ak1", AppSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	v := start(t, em.Core(), em.Handler())
	for _, base := range []string{v.url, v.url + "/nimserver"} {
		p := provider(t, &config.Provider{Name: "ne" + base[len(v.url):], Dialect: config.Netease, BaseURL: base,
			Credentials: config.Credentials{AppKey: "ak1", AppSecret: config.SecretValue("s3cret")}}, upstream.Options{})
		ref, err := p.UploadMedia(context.Background(), deadline(), &upstream.MediaFile{Kind: "audio", ContentType: "audio/aac", Data: []byte{0xFF, 0xF1, 1}})
		if err != nil || !strings.HasPrefix(ref.URL, v.url+"/nos/") {
			t.Fatalf("%s: %v %+v", base, err, ref)
		}
	}
	bad := provider(t, &config.Provider{Name: "bad", Dialect: config.Netease, BaseURL: v.url,
		Credentials: config.Credentials{AppKey: "ak1", AppSecret: config.SecretValue("wrong")}}, upstream.Options{})
	_, err = bad.UploadMedia(context.Background(), deadline(), &upstream.MediaFile{Kind: "file", Data: []byte("x")})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad secret: %v", err)
	}
	if n := len(v.core.Inbox.List(emu.Filter{Type: emu.MediaType})); n != 2 {
		t.Fatalf("%d uploads", n)
	}
}
