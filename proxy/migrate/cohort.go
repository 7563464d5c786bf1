package migrate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Cohort is a set of recipients read from a file and re-read when the file
// changes. It is safe for concurrent use: lookups read an immutable set
// through an atomic pointer, take no lock and do not allocate, while
// [Cohort.Reload] and [Cohort.Check] build a new set and swap it in.
//
// The file holds one recipient per line. Blank lines and lines starting
// with '#' are ignored, and surrounding whitespace is trimmed. A line is
// "type:id", where type is user, group, room, department or email, or a
// bare id, which is a user; "urn:x" is the user "urn:x", since "urn" is no
// type. The line "all" (exactly) is the whole organisation (to_type all).
// A typed line with an empty id ("group:") is an error.
type Cohort struct {
	path string
	set  atomic.Pointer[cohortSet]

	mu   sync.Mutex // serialises Reload and Check
	seen fileStamp  // the file as it was when last read or checked
}

// fileStamp is what Check compares to tell whether the file changed.
type fileStamp struct {
	exists  bool
	modTime time.Time
	size    int64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{exists: true, modTime: fi.ModTime(), size: fi.Size()}
}

func (a fileStamp) equal(b fileStamp) bool {
	return a.exists == b.exists && a.size == b.size && a.modTime.Equal(b.modTime)
}

// recipient types a cohort file may name, in canonical walk order.
var cohortTypes = [...]string{"user", "group", "room", "department", "email"}

// cohortSet is one immutable reading of the file.
type cohortSet struct {
	ids [len(cohortTypes)]map[string]struct{}
	all bool
	n   int
}

func typeIndex(toType string) int {
	for i, t := range cohortTypes {
		if t == toType {
			return i
		}
	}
	return -1
}

// LoadCohort reads the cohort file at path. An unreadable file, or a line
// with an empty id, is an error naming the file (and the line).
func LoadCohort(path string) (*Cohort, error) {
	c := &Cohort{path: path}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Contains reports whether the recipient (toType, id) is in the cohort.
// For to_type "all" it reports whether the file has the line "all". It
// takes no lock and does not allocate.
func (c *Cohort) Contains(toType, id string) bool {
	s := c.set.Load()
	if s == nil {
		return false
	}
	if toType == "all" {
		return s.all
	}
	i := typeIndex(toType)
	if i < 0 {
		return false
	}
	_, ok := s.ids[i][id]
	return ok
}

// Len returns the number of distinct recipients in the cohort, "all"
// included.
func (c *Cohort) Len() int {
	if s := c.set.Load(); s != nil {
		return s.n
	}
	return 0
}

// Path returns the file the cohort is read from.
func (c *Cohort) Path() string { return c.path }

// Reload re-reads the file now. On error the previous set stays in effect
// and the error, naming the file and line, is returned.
func (c *Cohort) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked()
}

// reloadLocked reads the file and swaps the new set in. The file is
// stat'ed before it is read, so a change landing in between is seen again
// by the next Check rather than missed.
func (c *Cohort) reloadLocked() error {
	fi, err := os.Stat(c.path)
	if err != nil {
		c.seen = fileStamp{}
		return fmt.Errorf("migrate: cohort: %w", err)
	}
	c.seen = stampOf(fi)
	data, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("migrate: cohort: %w", err)
	}
	s, err := parseCohort(c.path, data)
	if err != nil {
		return err
	}
	c.set.Store(s)
	return nil
}

// Check stats the file and reloads it when its modification time or size
// differ from when it was last read or checked. changed reports whether
// the file changed (appeared, disappeared or was rewritten); err is the
// failed stat or reload, after which the previous set stays in effect. A
// failure is reported once per change of the file, not on every call.
// Watch calls Check on each tick; tests call it directly.
func (c *Cohort) Check() (changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil {
		if !c.seen.exists {
			return false, nil // already reported
		}
		c.seen = fileStamp{}
		return true, fmt.Errorf("migrate: cohort: %w (keeping the previous %d recipients)", err, c.Len())
	}
	if stampOf(fi).equal(c.seen) {
		return false, nil
	}
	return true, c.reloadLocked()
}

// Watch calls [Cohort.Check] every every (a non-positive every means one
// second) until ctx is done, then returns. A failed check calls onErr,
// when not nil, and keeps the previous set.
func (c *Cohort) Watch(ctx context.Context, every time.Duration, onErr func(error)) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.Check(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// parseCohort reads the lines of a cohort file; path only names it in
// errors.
func parseCohort(path string, data []byte) (*cohortSet, error) {
	s := &cohortSet{}
	for i := range s.ids {
		s.ids[i] = map[string]struct{}{}
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if text == "all" {
			if !s.all {
				s.all = true
				s.n++
			}
			continue
		}
		ti, id := 0, text // a bare id is a user
		if prefix, rest, ok := strings.Cut(text, ":"); ok {
			if t := typeIndex(prefix); t >= 0 {
				ti, id = t, strings.TrimSpace(rest)
				if id == "" {
					return nil, fmt.Errorf("migrate: cohort %s:%d: %q has an empty id (write %s:<id>)", path, line, text, prefix)
				}
			}
		}
		if _, dup := s.ids[ti][id]; !dup {
			s.ids[ti][id] = struct{}{}
			s.n++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("migrate: cohort %s: %w", path, err)
	}
	return s, nil
}
