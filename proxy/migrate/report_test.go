package migrate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestWriteTextEmpty(t *testing.T) {
	for name, rep := range map[string]Report{"zero": {}, "snapshot": NewRegistry().Snapshot()} {
		var b strings.Builder
		if err := rep.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Count(out, "\n") != 1 {
			t.Errorf("%s: want one line, got %q", name, out)
		}
		for _, opt := range []string{"migrate.shadow", "migrate.mirror", "migrate.split", "migrate.cohort"} {
			if !strings.Contains(out, opt) {
				t.Errorf("%s: %q does not name %s", name, out, opt)
			}
		}
	}
}

// filled returns a registry with rows in every part, and the shadow reason
// that is cut off the text report (fourth most frequent of its row).
func filled() *Registry {
	r := NewRegistry()
	for range 40 {
		r.Shadow("chat", "youdu", "getsender->youdu", "text", Exact, "")
	}
	for i := range 4 {
		for range 5 - i {
			r.Shadow("chat", "youdu", "getsender->youdu", "location", Rejected, fmt.Sprintf("youdu cannot carry a location, case %d", i))
		}
	}
	r.Shadow("chat", "youdu", "getsender->youdu", "location", Exact, "")
	r.Shadow("support", "easemob", "netease->easemob", "news", Degraded, "articles\tsent\nas a link")
	for _, d := range []Divergence{Both, Both, PrimaryOnly, Neither} {
		r.Mirror("chat", "easemob", "getsender->easemob", "text", d)
	}
	r.Mirror("chat", "easemob", "getsender->easemob", "image", MirrorOnly)
	r.MirrorError("chat", "easemob", "mirror", "rate_limited")
	r.MirrorError("chat", "easemob", "primary", "unavailable")
	r.MirrorError("chat", "easemob", "mirror", "rate_limited")
	r.Job("chat", "mirror", false)
	r.Job("chat", "mirror", true)
	r.Job("chat", "shadow", false)
	r.Leg("support", "netease").Add(30)
	r.Leg("support", "youdu").Add(10)
	return r
}

// section returns the lines of the section titled title, up to the blank
// line that ends it.
func section(t *testing.T, out, title string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := slices.Index(lines, title)
	if i < 0 {
		t.Fatalf("no section %q in:\n%s", title, out)
	}
	var sec []string
	for _, l := range lines[i+1:] {
		if l == "" {
			break
		}
		sec = append(sec, l)
	}
	return sec
}

// rowOf returns the line of sec whose fields start with prefix.
func rowOf(t *testing.T, sec []string, prefix ...string) (int, []string) {
	t.Helper()
	for i, l := range sec {
		f := strings.Fields(l)
		if len(f) >= len(prefix) && slices.Equal(f[:len(prefix)], prefix) {
			return i, f
		}
	}
	t.Fatalf("no row %v in %q", prefix, sec)
	return 0, nil
}

func TestWriteText(t *testing.T) {
	rep := filled().Snapshot()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("report:\n%s", out)

	// Sections in order.
	last := -1
	for _, title := range []string{"Shadow readiness", "Mirror divergence", "Mirror errors", "Split", "Background jobs"} {
		i := strings.Index(out, "\n"+title+"\n")
		if title == "Shadow readiness" {
			i = strings.Index(out, title+"\n")
		}
		if i <= last {
			t.Errorf("section %q missing or out of order in:\n%s", title, out)
		}
		last = i
	}

	shadow := section(t, out, "Shadow readiness")
	for _, row := range rep.Shadow {
		i, f := rowOf(t, shadow, row.Route, row.Candidate, row.Pair, row.Kind)
		total := row.Exact + row.Degraded + row.Rejected
		want := []string{fmt.Sprint(row.Exact), fmt.Sprint(row.Degraded), fmt.Sprint(row.Rejected),
			fmt.Sprintf("%.1f%%", float64(row.Exact)*100/float64(total))}
		if !slices.Equal(f[4:], want) {
			t.Errorf("row %v: counts %v, want %v", f[:4], f[4:], want)
		}
		// Its top reasons follow it, indented, most frequent first.
		for j, re := range row.Reasons[:min(len(row.Reasons), topReasons)] {
			note := shadow[i+1+j]
			if !strings.HasPrefix(note, "    ") || !strings.Contains(note, fmt.Sprintf("%s %d:", re.Outcome, re.Count)) {
				t.Errorf("line %q under %v, want reason %+v", note, f[:4], re)
			}
		}
	}
	if strings.Contains(out, "case 3") {
		t.Errorf("the fourth reason of a row is shown:\n%s", out)
	}
	if !strings.Contains(out, "and 1 more reason (see the JSON report)") {
		t.Errorf("no note of the reasons left out:\n%s", out)
	}
	if !strings.Contains(out, "    degraded 1: articles sent as a link\n") {
		t.Errorf("control characters of a reason not flattened:\n%s", out)
	}

	mirror := section(t, out, "Mirror divergence")
	if len(mirror) != 3 {
		t.Errorf("mirror divergence has %d lines, want header + 2 rows (errors are apart): %q", len(mirror), mirror)
	}
	for _, row := range rep.Mirror {
		if row.Kind == "" {
			continue
		}
		_, f := rowOf(t, mirror, row.Route, row.Mirror, row.Pair, row.Kind)
		want := []string{fmt.Sprint(row.Both), fmt.Sprint(row.PrimaryOnly), fmt.Sprint(row.MirrorOnly), fmt.Sprint(row.Neither)}
		if !slices.Equal(f[4:], want) {
			t.Errorf("mirror row %v: %v, want %v", f[:4], f[4:], want)
		}
	}
	errs := section(t, out, "Mirror errors")
	for _, e := range rep.Mirror[0].Errors {
		if _, f := rowOf(t, errs, "chat", "easemob", e.Side, e.Code); f[4] != fmt.Sprint(e.Count) {
			t.Errorf("error %v counted %s, want %d", f[:4], f[4], e.Count)
		}
	}

	split := section(t, out, "Split")
	for _, row := range rep.Split {
		_, f := rowOf(t, split, row.Route, row.Target)
		want := []string{fmt.Sprint(row.Recipients), fmt.Sprintf("%.1f%%", float64(row.Recipients)*100/40)}
		if !slices.Equal(f[2:], want) {
			t.Errorf("split row %v: %v, want %v", f[:2], f[2:], want)
		}
	}
	jobs := section(t, out, "Background jobs")
	for _, row := range rep.Jobs {
		_, f := rowOf(t, jobs, row.Route, row.Job)
		if f[2] != fmt.Sprint(row.Done) || f[3] != fmt.Sprint(row.Dropped) {
			t.Errorf("jobs row %v: %v, want done %d dropped %d", f[:2], f[2:], row.Done, row.Dropped)
		}
	}
}

// TestWriteTextAligned checks that every column of a table starts at the
// same offset on the header and on every row, reason lines in between.
func TestWriteTextAligned(t *testing.T) {
	r := filled()
	r.Shadow("a-much-longer-route-name", "youdu", "opapp->youdu", "text", Exact, "")
	rep := r.Snapshot()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	sec := section(t, b.String(), "Shadow readiness")
	header := sec[0]
	cols := []int{0}
	for _, name := range []string{"CANDIDATE", "PAIR", "KIND", "EXACT", "DEGRADED", "REJECTED"} {
		cols = append(cols, strings.Index(header, name))
	}
	rows := 0
	for _, l := range sec[1:] {
		if strings.HasPrefix(l, " ") {
			continue // a reason
		}
		rows++
		for _, c := range cols[1:] {
			if c <= 0 || c >= len(l) || l[c-1] != ' ' || l[c] == ' ' {
				t.Errorf("row %q has no cell starting at column %d (header %q)", l, c, header)
			}
		}
	}
	if rows != len(rep.Shadow) {
		t.Errorf("%d rows, want %d", rows, len(rep.Shadow))
	}
}

func TestReportOnlyAndRoutes(t *testing.T) {
	rep := filled().Snapshot()
	if got, want := rep.Routes(), []string{"chat", "support"}; !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	only := rep.Only("support")
	if len(only.Shadow) != 1 || len(only.Split) != 2 || len(only.Mirror) != 0 || len(only.Jobs) != 0 {
		t.Errorf("support rows: %+v", only)
	}
	for _, row := range only.Shadow {
		if row.Route != "support" {
			t.Errorf("row of route %q kept", row.Route)
		}
	}
	none := rep.Only("nope")
	if !none.Empty() || none.Shadow == nil || none.Split == nil {
		t.Errorf("unknown route: %+v, want empty non-nil parts", none)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	for name, rep := range map[string]Report{"empty": {}, "filled": filled().Snapshot()} {
		if err := rep.WriteText(failingWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: error %v, want the writer's", name, err)
		}
	}
}
