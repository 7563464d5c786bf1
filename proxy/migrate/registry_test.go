package migrate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestOutcomeAndDivergenceStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Exact.String(), "exact"},
		{Degraded.String(), "degraded"},
		{Rejected.String(), "rejected"},
		{Outcome(7).String(), "outcome(7)"},
		{Both.String(), "both"},
		{PrimaryOnly.String(), "primary_only"},
		{MirrorOnly.String(), "mirror_only"},
		{Neither.String(), "neither"},
		{Divergence(9).String(), "divergence(9)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// shadowEvent is one Shadow call.
type shadowEvent struct {
	route, candidate, pair, kind string
	o                            Outcome
	reason                       string
}

// shadowEvents returns a varied, deterministic list of shadow calls,
// deliberately out of order.
func shadowEvents() []shadowEvent {
	var evs []shadowEvent
	routes := []string{"sales", "chat", "ops"}
	candidates := []string{"youdu", "easemob"}
	kinds := []string{"text", "location", "image"}
	for i := range 97 {
		e := shadowEvent{
			route:     routes[i%len(routes)],
			candidate: candidates[(i/3)%len(candidates)],
			kind:      kinds[(i/2)%len(kinds)],
			o:         Outcome(i % 3),
		}
		e.pair = "getsender->" + e.candidate
		if e.o != Exact {
			e.reason = fmt.Sprintf("%s cannot carry %s (case %d)", e.candidate, e.kind, i%2)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestSnapshotShadowCounts(t *testing.T) {
	r := NewRegistry()
	type key struct{ route, candidate, pair, kind string }
	want := map[key]*ShadowRow{}
	reasons := map[key]map[Reason]bool{}
	for _, e := range shadowEvents() {
		r.Shadow(e.route, e.candidate, e.pair, e.kind, e.o, e.reason)
		k := key{e.route, e.candidate, e.pair, e.kind}
		row := want[k]
		if row == nil {
			row = &ShadowRow{}
			want[k] = row
			reasons[k] = map[Reason]bool{}
		}
		switch e.o {
		case Exact:
			row.Exact++
		case Degraded:
			row.Degraded++
		case Rejected:
			row.Rejected++
		}
		if e.o != Exact {
			reasons[k][Reason{Outcome: e.o.String(), Reason: e.reason}] = true
		}
	}
	rep := r.Snapshot()
	if len(rep.Shadow) != len(want) {
		t.Fatalf("%d shadow rows, want %d", len(rep.Shadow), len(want))
	}
	for _, row := range rep.Shadow {
		k := key{row.Route, row.Candidate, row.Pair, row.Kind}
		w := want[k]
		if w == nil {
			t.Errorf("unexpected row %+v", k)
			continue
		}
		if row.Exact != w.Exact || row.Degraded != w.Degraded || row.Rejected != w.Rejected {
			t.Errorf("%+v: exact/degraded/rejected = %d/%d/%d, want %d/%d/%d", k,
				row.Exact, row.Degraded, row.Rejected, w.Exact, w.Degraded, w.Rejected)
		}
		var sum uint64
		for _, re := range row.Reasons {
			sum += re.Count
			if !reasons[k][Reason{Outcome: re.Outcome, Reason: re.Reason}] {
				t.Errorf("%+v: unexpected reason %+v", k, re)
			}
		}
		if sum != w.Degraded+w.Rejected {
			t.Errorf("%+v: reasons sum to %d, want %d", k, sum, w.Degraded+w.Rejected)
		}
		if !slices.IsSortedFunc(row.Reasons, func(a, b Reason) int { return cmp.Compare(b.Count, a.Count) }) {
			t.Errorf("%+v: reasons not most frequent first: %+v", k, row.Reasons)
		}
	}
	if !slices.IsSortedFunc(rep.Shadow, func(a, b ShadowRow) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Candidate, b.Candidate),
			cmp.Compare(a.Pair, b.Pair), cmp.Compare(a.Kind, b.Kind))
	}) {
		t.Error("shadow rows are not sorted by route, candidate, pair, kind")
	}
	if rep.Mirror == nil || rep.Jobs == nil || rep.Split == nil {
		t.Error("empty parts of the snapshot are nil, want empty slices")
	}
}

func TestShadowReasonsBounded(t *testing.T) {
	r := NewRegistry()
	// 12 distinct rejected reasons, reason i given i+1 times.
	var total uint64
	for i := range 12 {
		for range i + 1 {
			r.Shadow("chat", "youdu", "easemob->youdu", "location", Rejected, fmt.Sprintf("reason %02d", i))
			total++
		}
	}
	// An exact message's reason is ignored; an empty reason is named.
	r.Shadow("chat", "youdu", "easemob->youdu", "location", Exact, "ignored")
	r.Shadow("chat", "youdu", "easemob->youdu", "location", Degraded, "")
	// Out-of-range outcomes are not counted.
	r.Shadow("chat", "youdu", "easemob->youdu", "location", Outcome(3), "nope")

	rows := r.Snapshot().Shadow
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	row := rows[0]
	if row.Exact != 1 || row.Degraded != 1 || row.Rejected != total {
		t.Fatalf("counts %d/%d/%d, want 1/1/%d", row.Exact, row.Degraded, row.Rejected, total)
	}
	var rejected []Reason
	for _, re := range row.Reasons {
		switch {
		case re.Outcome == "degraded":
			if re.Reason != NoReason || re.Count != 1 {
				t.Errorf("degraded reason %+v, want %q once", re, NoReason)
			}
		case re.Outcome == "rejected":
			rejected = append(rejected, re)
		default:
			t.Errorf("reason with outcome %q", re.Outcome)
		}
	}
	if len(rejected) != MaxReasons+1 {
		t.Fatalf("%d rejected reasons, want %d kept + %q: %+v", len(rejected), MaxReasons, OtherReasons, rejected)
	}
	// The first MaxReasons distinct reasons (00..07) are kept; 08..11
	// (9+10+11+12 = 42 messages) go to OtherReasons, the most frequent.
	var wantOther uint64
	for i := MaxReasons; i < 12; i++ {
		wantOther += uint64(i + 1)
	}
	if rejected[0].Reason != OtherReasons || rejected[0].Count != wantOther {
		t.Errorf("first rejected reason %+v, want %q × %d", rejected[0], OtherReasons, wantOther)
	}
	for _, re := range rejected[1:] {
		var i int
		if _, err := fmt.Sscanf(re.Reason, "reason %d", &i); err != nil || i >= MaxReasons {
			t.Errorf("kept reason %q, want one of the first %d", re.Reason, MaxReasons)
		}
		if re.Count != uint64(i+1) {
			t.Errorf("reason %q counted %d, want %d", re.Reason, re.Count, i+1)
		}
	}
}

func TestReasonCutOnRuneBoundary(t *testing.T) {
	for _, tc := range []struct {
		name, in string
	}{
		{"ascii", strings.Repeat("x", 500)},
		{"two-byte", "é" + strings.Repeat("ü", 300)}, // rune starts at odd bytes
		{"three-byte", strings.Repeat("位", 100)},
		{"four-byte", "ab" + strings.Repeat("😀", 80)},
		{"short", "fits as it is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			r.Shadow("r", "c", "p", "k", Rejected, tc.in)
			got := r.Snapshot().Shadow[0].Reasons[0].Reason
			if len(got) > MaxReasonBytes {
				t.Errorf("kept %d bytes, want at most %d", len(got), MaxReasonBytes)
			}
			if !utf8.ValidString(got) {
				t.Errorf("kept reason is not valid UTF-8: %q", got)
			}
			if !strings.HasPrefix(tc.in, got) {
				t.Errorf("kept %q, not a prefix of the reason", got)
			}
			if len(tc.in) <= MaxReasonBytes && got != tc.in {
				t.Errorf("short reason changed to %q", got)
			}
			if len(tc.in) > MaxReasonBytes && len(got) < MaxReasonBytes-3 {
				t.Errorf("kept only %d bytes of a long reason", len(got))
			}
		})
	}
}

func TestMirrorCountsAndErrors(t *testing.T) {
	r := NewRegistry()
	divs := []Divergence{Both, Both, Both, PrimaryOnly, MirrorOnly, Neither, Both}
	for i, d := range divs {
		kind := []string{"text", "image"}[i%2]
		r.Mirror("chat", "easemob", "netease->easemob", kind, d)
	}
	r.Mirror("chat", "easemob", "netease->easemob", "text", Divergence(4)) // not counted
	r.MirrorError("chat", "easemob", "mirror", "rate_limited")
	r.MirrorError("chat", "easemob", "mirror", "rate_limited")
	r.MirrorError("chat", "easemob", "primary", "unavailable")
	r.MirrorError("ops", "youdu", "mirror", "unauthorized") // a route with errors only

	rep := r.Snapshot()
	want := map[string][4]uint64{}
	for i, d := range divs {
		kind := []string{"text", "image"}[i%2]
		c := want[kind]
		c[d]++
		want[kind] = c
	}
	if len(rep.Mirror) != 4 {
		t.Fatalf("%d mirror rows, want 4 (two kinds and two errors rows): %+v", len(rep.Mirror), rep.Mirror)
	}
	// The errors row sorts first: empty pair and kind.
	errRow := rep.Mirror[0]
	if errRow.Route != "chat" || errRow.Pair != "" || errRow.Kind != "" {
		t.Fatalf("first row %+v, want the errors row of chat", errRow)
	}
	wantErrs := []ErrorCount{{"mirror", "rate_limited", 2}, {"primary", "unavailable", 1}}
	if !slices.Equal(errRow.Errors, wantErrs) {
		t.Errorf("errors %+v, want %+v", errRow.Errors, wantErrs)
	}
	for _, row := range rep.Mirror[1:3] {
		w := want[row.Kind]
		got := [4]uint64{row.Both, row.PrimaryOnly, row.MirrorOnly, row.Neither}
		if got != w {
			t.Errorf("%s: both/primary/mirror/neither %v, want %v", row.Kind, got, w)
		}
		if len(row.Errors) != 0 {
			t.Errorf("%s: errors on a divergence row: %+v", row.Kind, row.Errors)
		}
	}
	last := rep.Mirror[3]
	if last.Route != "ops" || last.Mirror != "youdu" || !slices.Equal(last.Errors, []ErrorCount{{"mirror", "unauthorized", 1}}) {
		t.Errorf("last row %+v, want the errors of ops", last)
	}
}

func TestMirrorErrorCodesBounded(t *testing.T) {
	r := NewRegistry()
	for i := range MaxErrorCodes + 5 {
		r.MirrorError("chat", "easemob", "mirror", fmt.Sprintf("code_%02d", i))
	}
	// A code already kept for one side is kept for the other side too,
	// even with the cap reached.
	r.MirrorError("chat", "easemob", "primary", "code_00")
	r.MirrorError("chat", "easemob", "primary", "code_99")

	errs := r.Snapshot().Mirror[0].Errors
	got := map[ErrorCount]bool{}
	for _, e := range errs {
		got[e] = true
	}
	for i := range MaxErrorCodes {
		if !got[ErrorCount{"mirror", fmt.Sprintf("code_%02d", i), 1}] {
			t.Errorf("code_%02d not kept: %+v", i, errs)
		}
	}
	for _, e := range []ErrorCount{{"mirror", OtherCodes, 5}, {"primary", "code_00", 1}, {"primary", OtherCodes, 1}} {
		if !got[e] {
			t.Errorf("missing %+v in %+v", e, errs)
		}
	}
	if len(errs) != MaxErrorCodes+3 {
		t.Errorf("%d error entries, want %d", len(errs), MaxErrorCodes+3)
	}
	if errs[0] != (ErrorCount{"mirror", OtherCodes, 5}) {
		t.Errorf("first error %+v, want the most frequent", errs[0])
	}
}

func TestJobsAndLegs(t *testing.T) {
	r := NewRegistry()
	for i := range 10 {
		r.Job("chat", "shadow", i%4 == 0)
		r.Job("chat", "mirror", false)
	}
	a := r.Leg("chat", "youdu")
	b := r.Leg("chat", "netease")
	if r.Leg("chat", "youdu") != a {
		t.Fatal("Leg returned a new counter for the same route and target")
	}
	a.Add(3)
	a.Add(4)
	b.Add(1)
	b.Add(0)
	b.Add(-5) // ignored
	if a.Load() != 7 || b.Load() != 1 {
		t.Fatalf("legs %d and %d, want 7 and 1", a.Load(), b.Load())
	}
	rep := r.Snapshot()
	wantJobs := []JobRow{{"chat", "mirror", 10, 0}, {"chat", "shadow", 7, 3}}
	if !slices.Equal(rep.Jobs, wantJobs) {
		t.Errorf("jobs %+v, want %+v", rep.Jobs, wantJobs)
	}
	wantSplit := []SplitRow{{"chat", "netease", 1}, {"chat", "youdu", 7}}
	if !slices.Equal(rep.Split, wantSplit) {
		t.Errorf("split %+v, want %+v", rep.Split, wantSplit)
	}
}

func TestLegAddDoesNotAllocate(t *testing.T) {
	c := NewRegistry().Leg("chat", "youdu")
	if n := testing.AllocsPerRun(1000, func() { c.Add(2) }); n != 0 {
		t.Errorf("Leg.Add allocates %v times, want 0", n)
	}
	if c.Load() != 2*1001 { // AllocsPerRun runs the function once more to warm up
		t.Errorf("counted %d, want %d", c.Load(), 2*1001)
	}
}

func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.Shadow("a", "b", "c", "d", Rejected, "x")
	r.Mirror("a", "b", "c", "d", Both)
	r.MirrorError("a", "b", "mirror", "x")
	r.Job("a", "mirror", true)
	leg := r.Leg("a", "b")
	leg.Add(3)
	if leg.Load() != 0 {
		t.Errorf("nil counter counted %d", leg.Load())
	}
	if rep := r.Snapshot(); !rep.Empty() {
		t.Errorf("nil registry snapshot %+v, want empty", rep)
	}
}

// TestConcurrentUse records from many goroutines while others snapshot and
// scrape; run with -race. The totals must add up once all are done.
func TestConcurrentUse(t *testing.T) {
	r := NewRegistry()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.Snapshot()
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leg := r.Leg("chat", fmt.Sprint("target", w%3))
			for i := range each {
				kind := fmt.Sprint("kind", i%5)
				r.Shadow("chat", "youdu", "getsender->youdu", kind, Outcome(i%3), fmt.Sprint("reason ", i%11))
				r.Mirror("chat", "easemob", "getsender->easemob", kind, Divergence(i%4))
				r.MirrorError("chat", "easemob", "mirror", fmt.Sprint("code", i%20))
				r.Job("chat", "shadow", i%7 == 0)
				leg.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	rep := r.Snapshot()
	var shadow, reasons, mirror, errs, jobs, legs uint64
	for _, row := range rep.Shadow {
		shadow += row.Exact + row.Degraded + row.Rejected
		for _, re := range row.Reasons {
			reasons += re.Count
		}
	}
	for _, row := range rep.Mirror {
		mirror += row.Both + row.PrimaryOnly + row.MirrorOnly + row.Neither
		for _, e := range row.Errors {
			errs += e.Count
		}
	}
	for _, row := range rep.Jobs {
		jobs += row.Done + row.Dropped
	}
	for _, row := range rep.Split {
		legs += row.Recipients
	}
	const n = workers * each
	var notExact uint64
	for i := range each {
		if i%3 != 0 {
			notExact += workers
		}
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"shadow", shadow, n}, {"reasons", reasons, notExact}, {"mirror", mirror, n},
		{"errors", errs, n}, {"jobs", jobs, n}, {"legs", legs, n},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d counted, want %d", c.name, c.got, c.want)
		}
	}
}

func TestCollectExposition(t *testing.T) {
	r := NewRegistry()
	r.Shadow("chat", "youdu", "getsender->youdu", "text", Exact, "")
	r.Shadow("chat", "youdu", "getsender->youdu", "text", Exact, "")
	r.Shadow("chat", "youdu", "getsender->youdu", "text", Rejected, "too long")
	r.Mirror("chat", "easemob", "getsender->easemob", "text", MirrorOnly)
	r.MirrorError("chat", "easemob", "primary", "timeout")
	r.Job("chat", "mirror", true)
	r.Leg("chat", "netease").Add(5)

	const want = `# HELP imrelay_migrate_jobs_total Background mirror and shadow jobs of a route, by result: done, or dropped because the route's queue was full.
# TYPE imrelay_migrate_jobs_total counter
imrelay_migrate_jobs_total{job="mirror",result="done",route="chat"} 0
imrelay_migrate_jobs_total{job="mirror",result="dropped",route="chat"} 1
# HELP imrelay_mirror_errors_total Mirrored (message, recipient) pairs that failed, by side (primary or mirror) and canonical error code.
# TYPE imrelay_mirror_errors_total counter
imrelay_mirror_errors_total{code="timeout",mirror="easemob",route="chat",side="primary"} 1
# HELP imrelay_mirror_recipients_total Mirrored (message, recipient) pairs by who delivered them: both, primary_only, mirror_only or neither.
# TYPE imrelay_mirror_recipients_total counter
imrelay_mirror_recipients_total{kind="text",mirror="easemob",outcome="both",pair="getsender->easemob",route="chat"} 0
imrelay_mirror_recipients_total{kind="text",mirror="easemob",outcome="mirror_only",pair="getsender->easemob",route="chat"} 1
imrelay_mirror_recipients_total{kind="text",mirror="easemob",outcome="neither",pair="getsender->easemob",route="chat"} 0
imrelay_mirror_recipients_total{kind="text",mirror="easemob",outcome="primary_only",pair="getsender->easemob",route="chat"} 0
# HELP imrelay_shadow_messages_total Messages translated for a shadow candidate and never sent, by outcome: exact, degraded or rejected.
# TYPE imrelay_shadow_messages_total counter
imrelay_shadow_messages_total{candidate="youdu",kind="text",outcome="degraded",pair="getsender->youdu",route="chat"} 0
imrelay_shadow_messages_total{candidate="youdu",kind="text",outcome="exact",pair="getsender->youdu",route="chat"} 2
imrelay_shadow_messages_total{candidate="youdu",kind="text",outcome="rejected",pair="getsender->youdu",route="chat"} 1
# HELP imrelay_split_recipients_total Recipients a split or cohort route sent to each target.
# TYPE imrelay_split_recipients_total counter
imrelay_split_recipients_total{route="chat",target="netease"} 5
`
	if got := exposition(t, r); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
}

// gather collects c through a pedantic registry, which also checks that
// what Collect sends matches what Describe announced.
func gather(t *testing.T, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// exposition returns what a scrape of c reads in the text format, metric
// families sorted by name.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	var b strings.Builder
	for _, f := range gather(t, c) {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestCollectMatchesSnapshot scrapes a registry filled from the event table
// and checks every shadow sample against the counts the test kept itself.
func TestCollectMatchesSnapshot(t *testing.T) {
	r := NewRegistry()
	type key struct{ route, candidate, pair, kind, outcome string }
	want := map[key]float64{}
	rows := map[key]bool{}
	for _, e := range shadowEvents() {
		r.Shadow(e.route, e.candidate, e.pair, e.kind, e.o, e.reason)
		want[key{e.route, e.candidate, e.pair, e.kind, e.o.String()}]++
		rows[key{e.route, e.candidate, e.pair, e.kind, ""}] = true
	}
	seen := 0
	for _, f := range gather(t, r) {
		if f.GetName() != "imrelay_shadow_messages_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := labels(m)
			k := key{l["route"], l["candidate"], l["pair"], l["kind"], l["outcome"]}
			if got := m.GetCounter().GetValue(); got != want[k] {
				t.Errorf("%+v = %v, want %v", k, got, want[k])
			}
			seen++
		}
	}
	if seen != 3*len(rows) {
		t.Errorf("gathered %d shadow samples, want %d", seen, 3*len(rows))
	}
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func BenchmarkShadow(b *testing.B) {
	r := NewRegistry()
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Shadow("chat", "youdu", "getsender->youdu", "text", Exact, "")
		}
	})
	b.Run("rejected", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Shadow("chat", "youdu", "getsender->youdu", "location", Rejected, "youdu has no location message")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Shadow("chat", "youdu", "getsender->youdu", "text", Exact, "")
			}
		})
	})
}

func BenchmarkLegAdd(b *testing.B) {
	c := NewRegistry().Leg("chat", "youdu")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(1)
		}
	})
}
