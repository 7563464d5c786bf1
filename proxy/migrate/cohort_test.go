package migrate

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeCohort writes content to path and moves its modification time to
// stamp, so that Check sees a change even on coarse-grained clocks.
func writeCohort(t *testing.T, path, content string, stamp time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

type member struct {
	toType, id string
	in         bool
}

func TestLoadCohort(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		n       int
		members []member
	}{
		{"empty", "", 0, []member{{"user", "alice", false}, {"all", "", false}}},
		{"bare users", "alice\nbob\n", 2, []member{{"user", "alice", true}, {"user", "bob", true}, {"group", "alice", false}, {"user", "carol", false}}},
		{
			"typed",
			"user:alice\ngroup:g1\nroom:r1\ndepartment:d1\nemail:a@b.example\n",
			5,
			[]member{{"user", "alice", true}, {"group", "g1", true}, {"room", "r1", true}, {"department", "d1", true}, {"email", "a@b.example", true}, {"user", "g1", false}, {"group", "r1", false}},
		},
		{
			"comments blanks whitespace",
			"# pilot team\n\n   \n  alice  \r\n\t# indented comment\n\tgroup: g1 \n",
			2,
			[]member{{"user", "alice", true}, {"group", "g1", true}, {"user", "# indented comment", false}, {"user", "  alice  ", false}},
		},
		{"all", "all\n", 1, []member{{"all", "", true}, {"all", "whatever", true}, {"user", "all", false}}},
		{"all is exact", "ALL\nall:x\n", 2, []member{{"all", "", false}, {"user", "ALL", true}, {"user", "all:x", true}}},
		{"non-type prefix", "urn:x\nmailto:a@b\n", 2, []member{{"user", "urn:x", true}, {"user", "mailto:a@b", true}, {"user", "x", false}}},
		{"type prefix keeps later colons", "group:a:b\n", 1, []member{{"group", "a:b", true}, {"user", "group:a:b", false}}},
		{"duplicates count once", "alice\nuser:alice\nalice\nall\nall\n", 2, []member{{"user", "alice", true}, {"all", "", true}}},
		{"unicode and quotes", "\uFEFF用户\nuser:a\"b\\c\n", 2, []member{{"user", "用户", true}, {"user", `a"b\c`, true}}},
		{"no final newline", "alice\ngroup:g1", 2, []member{{"group", "g1", true}}},
		{"unknown to_type", "alice\n", 1, []member{{"channel", "alice", false}, {"", "alice", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cohort.txt")
			writeCohort(t, path, tc.content, time.Now())
			c, err := LoadCohort(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != tc.n {
				t.Errorf("Len() = %d, want %d", c.Len(), tc.n)
			}
			if c.Path() != path {
				t.Errorf("Path() = %q, want %q", c.Path(), path)
			}
			for _, m := range tc.members {
				if got := c.Contains(m.toType, m.id); got != m.in {
					t.Errorf("Contains(%q, %q) = %v, want %v", m.toType, m.id, got, m.in)
				}
			}
		})
	}
}

func TestLoadCohortErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty group", "alice\n# c\ngroup:\n", ":3:"},
		{"empty user", "user:   \n", ":1:"},
		{"empty email after blank lines", "\n\n\nbob\nemail:\n", ":5:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".txt")
			writeCohort(t, path, tc.content, time.Now())
			c, err := LoadCohort(path)
			if err == nil {
				t.Fatalf("LoadCohort = %v, want an error", c)
			}
			if !strings.Contains(err.Error(), path+tc.want) {
				t.Errorf("error %q does not name %s%s", err, path, tc.want)
			}
		})
	}
	missing := filepath.Join(dir, "missing.txt")
	_, err := LoadCohort(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadCohort(missing) error %v, want not-exist naming the file", err)
	}
}

func TestReloadKeepsPreviousSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohort.txt")
	writeCohort(t, path, "alice\n", time.Now())
	c, err := LoadCohort(path)
	if err != nil {
		t.Fatal(err)
	}
	writeCohort(t, path, "bob\nroom:\n", time.Now())
	if err := c.Reload(); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("Reload of a bad file: %v, want an error at line 2", err)
	}
	if !c.Contains("user", "alice") || c.Contains("user", "bob") || c.Len() != 1 {
		t.Error("a failed Reload changed the set")
	}
	writeCohort(t, path, "bob\n", time.Now())
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.Contains("user", "alice") || !c.Contains("user", "bob") {
		t.Error("Reload did not swap the set")
	}
}

// TestCheck walks a cohort file through its life: unchanged, rewritten,
// broken, fixed, removed and recreated.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohort.txt")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	writeCohort(t, path, "alice\n", base)
	c, err := LoadCohort(path)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		changed bool
		err     string // substring; "" = no error
		alice   bool
		bob     bool
	}
	steps := []struct {
		name  string
		setup func()
		want  want
	}{
		{"unchanged", func() {}, want{false, "", true, false}},
		{"rewritten", func() { writeCohort(t, path, "bob\n", base.Add(time.Second)) }, want{true, "", false, true}},
		{"same size, newer time", func() { writeCohort(t, path, "bib\n", base.Add(2*time.Second)) }, want{true, "", false, false}},
		{"same time, other size", func() { writeCohort(t, path, "alice\nbob\n", base.Add(2*time.Second)) }, want{true, "", true, true}},
		{"broken", func() { writeCohort(t, path, "carol\ngroup:\n", base.Add(3*time.Second)) }, want{true, path + ":2:", true, true}},
		{"broken, reported once", func() {}, want{false, "", true, true}},
		{"fixed", func() { writeCohort(t, path, "alice\n", base.Add(4*time.Second)) }, want{true, "", true, false}},
		{"removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, want{true, path, true, false}},
		{"still removed", func() {}, want{false, "", true, false}},
		{"recreated", func() { writeCohort(t, path, "bob\n", base.Add(5*time.Second)) }, want{true, "", false, true}},
		{"quiet again", func() {}, want{false, "", false, true}},
	}
	for _, s := range steps {
		s.setup()
		changed, err := c.Check()
		if changed != s.want.changed {
			t.Errorf("%s: changed = %v, want %v", s.name, changed, s.want.changed)
		}
		switch {
		case s.want.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", s.name, err)
		case s.want.err != "" && (err == nil || !strings.Contains(err.Error(), s.want.err)):
			t.Errorf("%s: error %v, want one containing %q", s.name, err, s.want.err)
		}
		if got := c.Contains("user", "alice"); got != s.want.alice {
			t.Errorf("%s: alice in cohort = %v, want %v", s.name, got, s.want.alice)
		}
		if got := c.Contains("user", "bob"); got != s.want.bob {
			t.Errorf("%s: bob in cohort = %v, want %v", s.name, got, s.want.bob)
		}
	}
}

// TestWatch checks that Watch reloads a changed file, reports a broken one
// through onErr, and returns when its context ends.
func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohort.txt")
	base := time.Now().Add(-time.Hour)
	writeCohort(t, path, "alice\n", base)
	c, err := LoadCohort(path)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Watch(ctx, time.Millisecond, func(err error) { errs <- err })
		close(done)
	}()
	writeCohort(t, path, "alice\nuser:\n", base.Add(time.Second))
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), path+":2:") {
			t.Errorf("onErr got %v, want the bad line", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report a broken file")
	}
	if !c.Contains("user", "alice") {
		t.Error("a broken file dropped the previous set")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

// TestConcurrentContains reads the cohort from several goroutines while
// it is reloaded; run with -race.
func TestConcurrentContains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohort.txt")
	versions := []string{"stable\nalice\n", "stable\nbob\ngroup:g1\n"}
	writeCohort(t, path, versions[0], time.Now())
	c, err := LoadCohort(path)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	bad := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !c.Contains("user", "stable") {
					bad <- "stable member missing"
					return
				}
				if n := c.Len(); n != 2 && n != 3 {
					bad <- "impossible Len"
					return
				}
				c.Contains("group", "g1")
			}
		}()
	}
	for i := range 200 {
		writeCohort(t, path, versions[i%2], time.Now())
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
	if !c.Contains("user", "bob") || !c.Contains("group", "g1") || c.Contains("user", "alice") {
		t.Error("the last Reload did not leave the last version in effect")
	}
}
