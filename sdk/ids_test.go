package sdk

import (
	"strings"
	"testing"
)

func TestIDProblem(t *testing.T) {
	ok := []string{"alice", "u-1_2.x", "148238038269428232", "用户", "a.b"}
	for _, id := range ok {
		if p := IDProblem(id); p != "" {
			t.Errorf("IDProblem(%q) = %q, want none", id, p)
		}
	}
	bad := map[string]string{
		"a|b": "'|'", "a/b": "'/'", `a\b`: `'\'`, "a%7Cb": "'%'", "a?b": "'?'", "a#b": "'#'",
		"a..b": "'..'", "a b": "space", "a\nb": "control", "a\x7fb": "control",
		"\xff": "UTF-8", string(make([]byte, 129)): "128",
	}
	for id, want := range bad {
		p := IDProblem(id)
		if p == "" || !strings.Contains(p, want) {
			t.Errorf("IDProblem(%q) = %q, want a problem mentioning %s", id, p, want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { IDProblem("alice") }); a != 0 {
		t.Errorf("IDProblem allocates %.0f times on a good id", a)
	}
}
