package config

import (
	"strings"
	"testing"
	"time"
)

func TestMediaValidate(t *testing.T) {
	good := Media{AllowHosts: []string{"files.example.com", "*.cdn.example.com", "127.0.0.1:8081", "[::1]:80", "::1"},
		MaxBytes: map[string]Size{"image": 1 << 20}, TTL: map[string]time.Duration{"youdu": time.Hour}}
	v := &validator{}
	good.validate(v)
	if len(v.errs) != 0 {
		t.Fatalf("good config refused: %v", v.errs)
	}
	bad := Media{AllowHosts: []string{"http://x", "a.*.com", "host:99999", ""},
		MaxBytes: map[string]Size{"sticker": 1, "image": 0}, TTL: map[string]time.Duration{"wechat": time.Hour, "youdu": 0}, CacheSize: -1, Timeout: -1}
	v = &validator{}
	bad.validate(v)
	if len(v.errs) != 10 {
		var b strings.Builder
		for _, e := range v.errs {
			b.WriteString(e.Error() + "\n")
		}
		t.Fatalf("%d problems:\n%s", len(v.errs), b.String())
	}
}
