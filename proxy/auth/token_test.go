package auth

import (
	"bytes"
	"strings"
	"testing"
)

func TestEqualToken(t *testing.T) {
	cases := []struct {
		got, want string
		eq        bool
	}{
		{"abc123", "abc123", true},
		{"", "", true},
		{"abc123", "abc124", false},
		{"abc12", "abc123", false},
		{"abc1234", "abc123", false},
		{"ABC123", "abc123", false},
	}
	for _, c := range cases {
		if got := EqualTokenString(c.got, c.want); got != c.eq {
			t.Errorf("EqualTokenString(%q, %q) = %v", c.got, c.want, got)
		}
		if got := EqualToken([]byte(c.got), c.want); got != c.eq {
			t.Errorf("EqualToken(%q, %q) = %v", c.got, c.want, got)
		}
	}
}

func TestNewTokenAndNonce(t *testing.T) {
	tok, err := NewToken(nil)
	if err != nil || len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Fatalf("NewToken = %q, %v", tok, err)
	}
	tok2, _ := NewToken(nil)
	if tok == tok2 {
		t.Fatal("two tokens are equal")
	}
	n, err := NewNonce(strings.NewReader("0123456789abcdef"))
	if err != nil || n != "30313233343536373839616263646566" {
		t.Fatalf("NewNonce = %q, %v", n, err)
	}
	if _, err := NewNonce(bytes.NewReader(nil)); err == nil || !strings.HasPrefix(err.Error(), "auth: ") {
		t.Fatalf("NewNonce from an empty reader: %v", err)
	}
}
