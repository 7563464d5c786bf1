package migrate

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
)

// topReasons is how many reasons WriteText shows under a shadow row.
const topReasons = 3

// Empty reports whether the report holds no row at all.
func (r *Report) Empty() bool {
	return len(r.Shadow) == 0 && len(r.Mirror) == 0 && len(r.Jobs) == 0 && len(r.Split) == 0
}

// Routes returns the routes the report has rows for, sorted, each once.
func (r *Report) Routes() []string {
	var routes []string
	for _, row := range r.Shadow {
		routes = append(routes, row.Route)
	}
	for _, row := range r.Mirror {
		routes = append(routes, row.Route)
	}
	for _, row := range r.Jobs {
		routes = append(routes, row.Route)
	}
	for _, row := range r.Split {
		routes = append(routes, row.Route)
	}
	slices.Sort(routes)
	return slices.Compact(routes)
}

// Only returns the rows of route alone, in their order. Its slices are
// never nil.
func (r *Report) Only(route string) Report {
	return Report{
		Shadow: keep(r.Shadow, func(row ShadowRow) bool { return row.Route == route }),
		Mirror: keep(r.Mirror, func(row MirrorRow) bool { return row.Route == route }),
		Jobs:   keep(r.Jobs, func(row JobRow) bool { return row.Route == route }),
		Split:  keep(r.Split, func(row SplitRow) bool { return row.Route == route }),
	}
}

func keep[T any](rows []T, ok func(T) bool) []T {
	out := []T{}
	for _, row := range rows {
		if ok(row) {
			out = append(out, row)
		}
	}
	return out
}

// WriteText writes the report as aligned plain-text tables, one section
// per non-empty part: "Shadow readiness" (route, candidate, pair, kind, the
// exact, degraded and rejected counts and the share exact, with each row's
// top reasons indented under it), "Mirror divergence" (route, mirror, pair,
// kind and who delivered, followed by the mirror errors), "Split" and
// "Background jobs". An empty report writes one line saying there is
// nothing to report yet and which route options produce data.
func (r *Report) WriteText(w io.Writer) error {
	if r.Empty() {
		_, err := fmt.Fprintln(w, "Nothing to report yet: no route with migrate.shadow, migrate.mirror, migrate.split or migrate.cohort has seen traffic since the relay started.")
		return err
	}
	var sections []*table
	if len(r.Shadow) > 0 {
		sections = append(sections, r.shadowTable())
	}
	if len(r.Mirror) > 0 {
		div, errs := r.mirrorTables()
		for _, t := range []*table{div, errs} {
			if len(t.rows) > 0 {
				sections = append(sections, t)
			}
		}
	}
	if len(r.Split) > 0 {
		sections = append(sections, r.splitTable())
	}
	if len(r.Jobs) > 0 {
		sections = append(sections, r.jobsTable())
	}
	var buf bytes.Buffer
	for i, t := range sections {
		if i > 0 {
			buf.WriteByte('\n')
		}
		t.render(&buf)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (r *Report) shadowTable() *table {
	t := &table{title: "Shadow readiness",
		header: []string{"ROUTE", "CANDIDATE", "PAIR", "KIND", "EXACT", "DEGRADED", "REJECTED", "EXACT %"}}
	for _, row := range r.Shadow {
		var notes []string
		for i, re := range row.Reasons {
			if i == topReasons {
				more, plural := len(row.Reasons)-topReasons, "s"
				if more == 1 {
					plural = ""
				}
				notes = append(notes, fmt.Sprintf("and %d more reason%s (see the JSON report)", more, plural))
				break
			}
			notes = append(notes, fmt.Sprintf("%s %d: %s", re.Outcome, re.Count, cell(re.Reason)))
		}
		t.add(notes, row.Route, row.Candidate, row.Pair, row.Kind, count(row.Exact), count(row.Degraded), count(row.Rejected),
			percent(row.Exact, row.Exact+row.Degraded+row.Rejected))
	}
	return t
}

// mirrorTables returns the divergence table and the errors table. A row
// that only carries errors (no pair, no kind, no count) is not a
// divergence row.
func (r *Report) mirrorTables() (div, errs *table) {
	div = &table{title: "Mirror divergence",
		header: []string{"ROUTE", "MIRROR", "PAIR", "KIND", "BOTH", "PRIMARY ONLY", "MIRROR ONLY", "NEITHER"}}
	errs = &table{title: "Mirror errors",
		header: []string{"ROUTE", "MIRROR", "SIDE", "CODE", "RECIPIENTS"}}
	for _, row := range r.Mirror {
		errorsOnly := row.Pair == "" && row.Kind == "" && row.Both+row.PrimaryOnly+row.MirrorOnly+row.Neither == 0
		if !errorsOnly {
			div.add(nil, row.Route, row.Mirror, row.Pair, row.Kind,
				count(row.Both), count(row.PrimaryOnly), count(row.MirrorOnly), count(row.Neither))
		}
		for _, e := range row.Errors {
			errs.add(nil, row.Route, row.Mirror, e.Side, e.Code, count(e.Count))
		}
	}
	return div, errs
}

func (r *Report) splitTable() *table {
	t := &table{title: "Split", header: []string{"ROUTE", "TARGET", "RECIPIENTS", "SHARE"}}
	total := map[string]uint64{}
	for _, row := range r.Split {
		total[row.Route] += row.Recipients
	}
	for _, row := range r.Split {
		t.add(nil, row.Route, row.Target, count(row.Recipients), percent(row.Recipients, total[row.Route]))
	}
	return t
}

func (r *Report) jobsTable() *table {
	t := &table{title: "Background jobs", header: []string{"ROUTE", "JOB", "DONE", "DROPPED", "DROPPED %"}}
	for _, row := range r.Jobs {
		t.add(nil, row.Route, row.Job, count(row.Done), count(row.Dropped), percent(row.Dropped, row.Done+row.Dropped))
	}
	return t
}

// table is one section of the text report: a title, aligned columns, and
// lines of notes printed indented under a row.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  [][]string
}

func (t *table) add(notes []string, cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	t.rows = append(t.rows, cells)
	t.notes = append(t.notes, notes)
}

// render aligns the header and rows with a tabwriter, then puts each row's
// notes under it: a line without cells would end tabwriter's column block
// and misalign the rows after it.
func (t *table) render(buf *bytes.Buffer) {
	var aligned bytes.Buffer
	tw := tabwriter.NewWriter(&aligned, 0, 0, 2, ' ', 0)
	for _, cells := range append([][]string{t.header}, t.rows...) {
		tw.Write([]byte(strings.Join(cells, "\t") + "\n"))
	}
	tw.Flush() // writes to a bytes.Buffer, which does not fail
	lines := strings.Split(strings.TrimSuffix(aligned.String(), "\n"), "\n")
	buf.WriteString(t.title + "\n")
	for i, line := range lines {
		buf.WriteString(strings.TrimRight(line, " ") + "\n")
		if i == 0 {
			continue
		}
		for _, n := range t.notes[i-1] {
			buf.WriteString("    " + n + "\n")
		}
	}
}

// cell makes s fit one table cell: control characters (tabs, line breaks)
// become spaces, and an empty value is shown as "-".
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func count(n uint64) string { return strconv.FormatUint(n, 10) }

// percent returns part/whole as a percentage with one decimal, or "-" when
// whole is zero.
func percent(part, whole uint64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(part)*100/float64(whole), 'f', 1, 64) + "%"
}
