package inbound

import (
	"strings"
	"testing"
	"time"

	"github.com/imrelay/imrelay/proxy/auth"
)

func TestCheckBody(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name, body string
		want       error
	}{
		{"empty", "", nil},
		{"message", `{"to":["a"],"body":{"msg":"hi ✓"}}`, nil},
		{"at the limit", deep(MaxDepth), nil},
		{"one past", deep(MaxDepth + 1), ErrBodyDepth},
		{"brackets inside strings", `{"msg":"` + deep(500) + `"}`, nil},
		{"escaped quote", `{"msg":"\"` + deep(500) + `"}`, nil},
		{"object nesting", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), ErrBodyDepth},
		{"not UTF-8", "{\"msg\":\"\xff\"}", ErrBodyUTF8},
		{"form", "to=bob&body=%7B%22msg%22%3A%22hi%22%7D", nil},
	}
	for _, c := range cases {
		if got := CheckBody([]byte(c.body)); (got == nil) != (c.want == nil) || got != nil && got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	body := []byte(`{"to":["a"],"body":{"msg":"hi"}}`)
	if n := testing.AllocsPerRun(100, func() { _ = CheckBody(body) }); n != 0 {
		t.Errorf("CheckBody allocates %.1f times", n)
	}
}

func TestReplayRefused(t *testing.T) {
	c := replayCache{seen: map[[20]byte]int64{}}
	now := time.Unix(1_700_000_000, 0)
	ct := "1700000000"
	sum := []byte(auth.CheckSum("s", "n1", ct))
	if ge := c.first(sum, []byte(ct), 5*time.Minute, now); ge != nil {
		t.Fatalf("first use: %v", ge)
	}
	if ge := c.first(sum, []byte(ct), 5*time.Minute, now); ge != ErrNeteaseReplay {
		t.Errorf("second use: %v, want ErrNeteaseReplay", ge)
	}
	upper := []byte(strings.ToUpper(string(sum)))
	if ge := c.first(upper, []byte(ct), 5*time.Minute, now); ge != ErrNeteaseReplay {
		t.Errorf("the same CheckSum in uppercase: %v, want ErrNeteaseReplay", ge)
	}
	other := []byte(auth.CheckSum("s", "n2", ct))
	if ge := c.first(other, []byte(ct), 5*time.Minute, now); ge != nil {
		t.Errorf("a new nonce: %v", ge)
	}
}
