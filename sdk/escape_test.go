package sdk

import (
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sdk/abi"
)

var escapeSamples = []string{
	"", "plain", `say "hi"`, `back\slash`, "tab\tnl\ncr\r", "\x00\x01\x1f\x7f",
	"<script>&</script>", "line\u2028para\u2029end", "\u2027\u202a\u20ac", "\xe2\x80", "\xe2",
	"bad \xff byte", "cut \xe4\xbd", "中文 é 😀", "部署已完成，无需操作。", strings.Repeat("a\"b<", 100),
}

func TestAppendStringMatchesABI(t *testing.T) {
	for _, s := range escapeSamples {
		if got, want := string(appendString(nil, s)), string(abi.AppendJSONString(nil, s)); got != want {
			t.Errorf("appendString(%q) = %s, abi writes %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range escapeSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString([]byte("x"), s)), string(abi.AppendJSONString([]byte("x"), s)); got != want {
			t.Fatalf("appendString(%q) = %s, abi writes %s", s, got, want)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := "Release 4.2.1 of the \"billing\" service finished rolling out to all 12 regions.\n部署已完成，无需操作。 <dashboard>"
	buf := make([]byte, 0, 1024)
	b.Run("sdk", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			buf = appendString(buf[:0], s)
		}
	})
	b.Run("abi", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			buf = abi.AppendJSONString(buf[:0], s)
		}
	})
}
