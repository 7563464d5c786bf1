package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"testing"
)

func BenchmarkCheckSum(b *testing.B) {
	b.Run("AppendCheckSum", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, CheckSumLen)
		for b.Loop() {
			dst = AppendCheckSum(dst[:0], "610128b2fabe", "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99", "1700000000")
		}
	})
	b.Run("CheckSum", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = CheckSum("610128b2fabe", "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99", "1700000000")
		}
	})
	b.Run("Verify", func(b *testing.B) {
		v := &CheckSumVerifier{AppKey: "k", AppSecret: "610128b2fabe", Now: fixedClock(1700000000)}
		key, nonce, ct := []byte("k"), []byte("4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99"), []byte("1700000000")
		sum := AppendCheckSum(nil, "610128b2fabe", string(nonce), string(ct))
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(key, nonce, ct, sum); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkYoudu measures the envelope of a 1 KB payload. The "stdlib CBC"
// baseline is the straightforward version every SDK writes: a fresh
// cipher.BlockMode and fresh buffers per call.
func BenchmarkYoudu(b *testing.B) {
	c, err := NewYouduCipher(testAESKey)
	if err != nil {
		b.Fatal(err)
	}
	msg := bytes.Repeat([]byte("a"), 1024)
	b64, _ := c.Encrypt(msg, testAppID)
	in := []byte(b64)

	b.Run("AppendEncrypt", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = c.AppendEncrypt(buf[:0], msg, testAppID)
		}
	})
	b.Run("Encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Encrypt(msg, testAppID)
		}
	})
	b.Run("AppendDecrypt", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			buf, _, _ = c.AppendDecrypt(buf[:0], in)
		}
	})
	b.Run("Decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			_, _, _ = c.Decrypt(b64)
		}
	})
	b.Run("stdlib CBC encrypt baseline", func(b *testing.B) {
		key, _ := base64.StdEncoding.DecodeString(testAESKey)
		block, _ := aes.NewCipher(key)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			plain := youduPlaintext(testPrefix, msg, testAppID)
			cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
			_ = base64.StdEncoding.EncodeToString(plain)
		}
	})
}

// TestBenchmarkYouduSetup checks that the benchmark's fixture is a valid
// envelope, so BenchmarkYoudu measures the success path.
func TestBenchmarkYouduSetup(t *testing.T) {
	c, _ := NewYouduCipher(testAESKey)
	msg := bytes.Repeat([]byte("a"), 1024)
	b64, _ := c.Encrypt(msg, testAppID)
	out, app, err := c.AppendDecrypt(nil, []byte(b64))
	if err != nil || !bytes.Equal(out, msg) || string(app) != testAppID {
		t.Fatalf("fixture round trip: %v", err)
	}
}
