package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

const (
	testAESKey = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
	testAppID  = "yd37D192E9F20E448192827A001A84D443"
	testPrefix = "0123456789abcdef"
)

// Known-answer vectors of the Youdu envelope with R = "0123456789abcdef",
// computed independently and decrypted back with openssl.
var youduVectors = []struct{ msg, b64 string }{
	{"1700000000", "v6805vKW2awcnEiXuLdBsJgkPWEbi0SmjoVvQjI6IxVkJU1Wtd31Rwr+8HORL4ZTqcNSzK7yunGfkaLyJ57LkS8dgAzQ+nF8RQd+ufQ/+0ZAjzGZQfBGOFbarxDFMhcp"},
	{`{"accessToken":"tok123","expireIn":7200}`, "v6805vKW2awcnEiXuLdBsNNKeeCtccUVjZzFi77kghAaU927Z5B+h1K/fpD/ceUkS+tr1bpw9OZWbrRLPkVIYLm0I9qOfncZ1kKeF8KYPqP+XLqqfDxR42tkQ1SSzdVO"},
	{`{"toUser":"alice|bob","toDept":"","msgType":"text","text":{"content":"hello"}}`, "v6805vKW2awcnEiXuLdBsPg2YDa86IZDxgsNX1G/+1teojL+E7g73bsGkjsJoikq3jmbpC8DmdSytx8b5X4ZRzM0Y4/ohUz7G8ho5+OV0c0Ic0Igp0aGURliOXtPjIUMX5CZHFU8zcP0Jd6mXEP4n8qFe7ea80Zi5bFkd76vP4Gg1FaTl/J3tn3Mp4NZA/TIuK56YMFtAhZZefshjiqlJA=="},
}

// repeatReader yields the same bytes over and over: each 16-byte read gets
// the fixed prefix.
type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r[i%len(r)]
	}
	return len(p), nil
}

func testCipher(t testing.TB) *YouduCipher {
	t.Helper()
	c, err := NewYouduCipher(testAESKey)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithRand(repeatReader(testPrefix))
}

func TestYouduVectors(t *testing.T) {
	c := testCipher(t)
	for _, v := range youduVectors {
		got, err := c.Encrypt([]byte(v.msg), testAppID)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.b64 {
			t.Errorf("Encrypt(%s)\n got %s\nwant %s", v.msg, got, v.b64)
		}
		if n := EnvelopeLen(len(v.msg), len(testAppID)); n != len(v.b64) {
			t.Errorf("EnvelopeLen = %d, want %d", n, len(v.b64))
		}
		msg, app, err := c.Decrypt(v.b64)
		if err != nil {
			t.Fatal(err)
		}
		if string(msg) != v.msg || app != testAppID {
			t.Errorf("Decrypt = %q, %q; want %q, %q", msg, app, v.msg, testAppID)
		}
	}
}

func TestYouduAppendVariants(t *testing.T) {
	c := testCipher(t)
	for _, v := range youduVectors {
		buf := []byte(`{"encrypt":"`)
		buf, err := c.AppendEncrypt(buf, []byte(v.msg), testAppID)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"encrypt":"` + v.b64; string(buf) != want {
			t.Fatalf("AppendEncrypt = %s, want %s", buf, want)
		}
		// The scratch space beyond the envelope is wiped.
		if tail := buf[len(buf):cap(buf)]; bytes.Contains(tail, []byte(v.msg)) {
			t.Fatal("plaintext left in the spare capacity")
		}

		out, app, err := c.AppendDecrypt([]byte("msg="), []byte(v.b64))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "msg="+v.msg || string(app) != testAppID {
			t.Fatalf("AppendDecrypt = %q, %q", out, app)
		}
	}
}

// A client that encrypts with a random IV (official Go and Python SDKs):
// only the random prefix is garbled, and the server still reads it.
func TestYouduRandomIVClient(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(testAESKey)
	msg := []byte(`{"toUser":"alice","msgType":"text","text":{"content":"hi"}}`)
	plain := youduPlaintext("RANDOMRANDOMRAND", msg, testAppID)
	block, _ := aes.NewCipher(key)
	iv := []byte("not-the-key-iv!!")
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)

	c := testCipher(t)
	got, app, err := c.Decrypt(base64.StdEncoding.EncodeToString(ct))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) || app != testAppID {
		t.Fatalf("Decrypt = %q, %q", got, app)
	}

	// And the other way: a client decrypting the server's answer with a
	// random IV reads the message after discarding the garbled prefix.
	b64, _ := c.Encrypt(msg, testAppID)
	raw, _ := base64.StdEncoding.DecodeString(b64)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(raw, raw)
	l := binary.BigEndian.Uint32(raw[16:20])
	if !bytes.Equal(raw[20:20+l], msg) {
		t.Fatalf("random-IV client read %q", raw[20:20+l])
	}
}

// youduPlaintext builds a padded plaintext independently of the package.
func youduPlaintext(prefix string, msg []byte, appID string) []byte {
	b := []byte(prefix)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, msg...)
	b = append(b, appID...)
	n := 32 - len(b)%32
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// encryptRaw encrypts an arbitrary plaintext (already a multiple of 16)
// with the test key and IV = key[:16].
func encryptRaw(plain []byte) string {
	key, _ := base64.StdEncoding.DecodeString(testAESKey)
	block, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, plain)
	return base64.StdEncoding.EncodeToString(ct)
}

func TestYouduMalformed(t *testing.T) {
	c := testCipher(t)
	good := youduPlaintext(testPrefix, []byte("hello"), testAppID)

	badPadValue := bytes.Clone(good)
	badPadValue[len(badPadValue)-1] = 33
	zeroPad := bytes.Clone(good)
	zeroPad[len(zeroPad)-1] = 0
	inconsistentPad := bytes.Clone(good)
	inconsistentPad[len(inconsistentPad)-2] ^= 1
	bigL := bytes.Clone(good)
	binary.BigEndian.PutUint32(bigL[16:20], 1000)
	// 16 bytes padded with 16: no room for the length field.
	tiny := bytes.Repeat([]byte{16}, 16)

	cases := []struct {
		name, b64 string
		want      error
	}{
		{"not base64", "%%%not base64%%%", ErrBadBase64},
		{"raw base64 without padding", strings.TrimRight(youduVectors[2].b64, "="), ErrBadBase64},
		{"empty", "", ErrBadCipherLen},
		{"not a block multiple", base64.StdEncoding.EncodeToString(make([]byte, 20)), ErrBadCipherLen},
		{"pad byte 33", encryptRaw(badPadValue), ErrBadPadding},
		{"pad byte 0", encryptRaw(zeroPad), ErrBadPadding},
		{"pad bytes differ", encryptRaw(inconsistentPad), ErrBadPadding},
		{"L too large", encryptRaw(bigL), ErrBadMsgLen},
		{"no length field", encryptRaw(tiny), ErrBadMsgLen},
	}
	sentinels := []error{ErrBadBase64, ErrBadCipherLen, ErrBadPadding, ErrBadMsgLen}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Decrypt(tc.b64)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt = %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Fatalf("error %v also matches %v", err, s)
				}
			}
			if !strings.HasPrefix(err.Error(), "auth: youdu: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			dst := []byte("keep")
			out, app, err := c.AppendDecrypt(dst, []byte(tc.b64))
			if err == nil || string(out) != "keep" || app != nil {
				t.Fatalf("AppendDecrypt on error = %q, %q, %v", out, app, err)
			}
		})
	}
}

func TestYouduPaddingBoundaries(t *testing.T) {
	c := testCipher(t)
	// Plaintext lengths around the 32-byte padding block: 20 + len(msg) +
	// len(appID) ranges over 32k-1, 32k and 32k+1.
	for n := 0; n < 70; n++ {
		msg := bytes.Repeat([]byte{'x'}, n)
		b64, err := c.Encrypt(msg, "app")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(b64)
		if len(raw)%32 != 0 || len(raw) <= 20+n+3 {
			t.Fatalf("len(msg)=%d: ciphertext of %d bytes", n, len(raw))
		}
		got, app, err := c.Decrypt(b64)
		if err != nil || !bytes.Equal(got, msg) || app != "app" {
			t.Fatalf("len(msg)=%d: round trip = %q, %q, %v", n, got, app, err)
		}
	}
}

// Standard PKCS#7 padding to 16 bytes (1..16) is within 1..32 and has the
// required form, so such clients are understood too.
func TestYouduSixteenBytePadding(t *testing.T) {
	b := []byte(testPrefix)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = append(b, "hiapp"...)
	n := 16 - len(b)%16
	b = append(b, bytes.Repeat([]byte{byte(n)}, n)...)
	msg, app, err := testCipher(t).Decrypt(encryptRaw(b))
	if err != nil || string(msg) != "hi" || app != "app" {
		t.Fatalf("Decrypt = %q, %q, %v", msg, app, err)
	}
}

func TestNewYouduCipherKeys(t *testing.T) {
	if _, err := NewYouduCipher(strings.TrimSuffix(testAESKey, "=")); err != nil {
		t.Fatalf("43-character key: %v", err)
	}
	cases := []struct{ name, key, mention string }{
		{"not base64", "not a key!", "Base64"},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes"},
		{"empty", "", "0 bytes"},
		{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)), "33 bytes"},
	}
	for _, tc := range cases {
		_, err := NewYouduCipher(tc.key)
		if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: err = %v, want ErrBadKey mentioning %q", tc.name, err, tc.mention)
		}
	}
}

func TestNewEncodingAESKey(t *testing.T) {
	k, err := NewEncodingAESKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 44 || k[43] != '=' {
		t.Fatalf("key %q is not 44 characters ending in =", k)
	}
	if _, err := NewYouduCipher(k); err != nil {
		t.Fatal(err)
	}
}

func TestYouduRandomPrefixError(t *testing.T) {
	c := testCipher(t).WithRand(bytes.NewReader(nil))
	dst := []byte("keep")
	out, err := c.AppendEncrypt(dst, []byte("x"), "app")
	if !errors.Is(err, ErrRandomPrefix) || string(out) != "keep" {
		t.Fatalf("AppendEncrypt with an empty reader = %q, %v", out, err)
	}
}

func TestYouduAllocs(t *testing.T) {
	c := testCipher(t)
	msg := bytes.Repeat([]byte("a"), 1024)
	enc := make([]byte, 0, 4096)
	dec := make([]byte, 0, 4096)
	b64, _ := c.Encrypt(msg, testAppID)
	in := []byte(b64)
	if a := testing.AllocsPerRun(100, func() {
		enc, _ = c.AppendEncrypt(enc[:0], msg, testAppID)
	}); a != 0 {
		t.Errorf("AppendEncrypt allocates %v times per call, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		dec, _, _ = c.AppendDecrypt(dec[:0], in)
	}); a != 0 {
		t.Errorf("AppendDecrypt allocates %v times per call, want 0", a)
	}
	// The default reader is crypto/rand; it must not allocate either.
	real, _ := NewYouduCipher(testAESKey)
	if a := testing.AllocsPerRun(100, func() {
		enc, _ = real.AppendEncrypt(enc[:0], msg, testAppID)
	}); a != 0 {
		t.Errorf("AppendEncrypt with crypto/rand allocates %v times per call, want 0", a)
	}
}
