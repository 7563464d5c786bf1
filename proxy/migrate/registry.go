package migrate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is what a shadow translation found for one message.
type Outcome uint8

// The outcomes of a shadow translation.
const (
	Exact    Outcome = iota // the candidate carries it as it is
	Degraded                // only with the route policy "degrade": sent in a documented fallback form
	Rejected                // the candidate cannot carry it at all
)

// numOutcomes is how many outcomes there are.
const numOutcomes = 3

var outcomeNames = [numOutcomes]string{"exact", "degraded", "rejected"}

// String returns "exact", "degraded" or "rejected".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Divergence is how one mirrored (message, recipient) fared on the two sides.
type Divergence uint8

// The divergences of a mirrored (message, recipient).
const (
	Both        Divergence = iota // delivered by primary and mirror
	PrimaryOnly                   // delivered by the primary only
	MirrorOnly                    // delivered by the mirror only
	Neither                       // delivered by neither
)

// numDivergences is how many divergences there are.
const numDivergences = 4

var divergenceNames = [numDivergences]string{"both", "primary_only", "mirror_only", "neither"}

// String returns "both", "primary_only", "mirror_only" or "neither".
func (d Divergence) String() string {
	if int(d) < len(divergenceNames) {
		return divergenceNames[d]
	}
	return fmt.Sprintf("divergence(%d)", uint8(d))
}

// Bounds on what a Registry keeps of free-form strings.
const (
	// MaxReasonBytes is the longest reason kept; longer ones are cut on a
	// UTF-8 boundary.
	MaxReasonBytes = 200
	// MaxReasons is how many distinct reasons a shadow row keeps per
	// outcome; further ones are counted under OtherReasons.
	MaxReasons = 8
	// MaxErrorCodes is how many distinct error codes a mirror keeps per
	// route; further ones are counted under OtherCodes.
	MaxErrorCodes = 16
	// OtherReasons is the reason the reasons beyond MaxReasons are counted under.
	OtherReasons = "(other reasons)"
	// OtherCodes is the code the error codes beyond MaxErrorCodes are counted under.
	OtherCodes = "(other codes)"
	// NoReason is the reason a degraded or rejected message given without
	// one is counted under.
	NoReason = "(no reason given)"
)

// Registry counts what the migration controls see: shadow translations,
// mirrored deliveries and their errors, background jobs, and the recipients
// each leg of a split or cohort received. It outlives configuration reloads
// (the relay keeps one per process), so counts survive them. It is safe for
// concurrent use, and a prometheus.Collector that exposes the counts at
// scrape time. The methods of a nil *Registry count nothing.
type Registry struct {
	mu     sync.RWMutex
	shadow map[shadowKey]*shadowEntry
	mirror map[mirrorKey]*mirrorEntry
	errors map[errorsKey]*errorsEntry
	jobs   map[jobKey]*jobEntry
	legs   map[legKey]*LegCounter
}

type shadowKey struct{ route, candidate, pair, kind string }

type shadowEntry struct {
	counts [numOutcomes]atomic.Uint64
	mu     sync.Mutex
	// reasons holds the reasons of Degraded and Rejected, by outcome.
	reasons [numOutcomes]tally
}

type mirrorKey struct{ route, mirror, pair, kind string }

type mirrorEntry struct {
	counts [numDivergences]atomic.Uint64
}

type errorsKey struct{ route, mirror string }

type sideCode struct{ side, code string }

type errorsEntry struct {
	mu     sync.Mutex
	counts map[sideCode]uint64
	kept   int // distinct codes kept, OtherCodes not included
}

type jobKey struct{ route, job string }

type jobEntry struct {
	done, dropped atomic.Uint64
}

type legKey struct{ route, target string }

// tally counts up to MaxReasons distinct strings and the rest under
// OtherReasons.
type tally struct {
	counts map[string]uint64
	kept   int
}

func (t *tally) add(s string) {
	if t.counts == nil {
		t.counts = make(map[string]uint64)
	}
	if _, ok := t.counts[s]; !ok {
		if t.kept >= MaxReasons {
			s = OtherReasons
		} else {
			s = strings.Clone(s)
			t.kept++
		}
	}
	t.counts[s]++
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		shadow: make(map[shadowKey]*shadowEntry),
		mirror: make(map[mirrorKey]*mirrorEntry),
		errors: make(map[errorsKey]*errorsEntry),
		jobs:   make(map[jobKey]*jobEntry),
		legs:   make(map[legKey]*LegCounter),
	}
}

// entry returns m[k], creating it with make under the write lock when it
// is missing. clone copies the strings of a new key so the registry does
// not pin the buffers they were cut from.
func entry[K comparable, V any](r *Registry, m map[K]*V, k K, clone func(K) K) *V {
	r.mu.RLock()
	v, ok := m[k]
	r.mu.RUnlock()
	if ok {
		return v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := m[k]; ok {
		return v
	}
	v = new(V)
	m[clone(k)] = v
	return v
}

// Shadow counts one message translated for candidate. pair is "inbound->candidate
// dialect", e.g. "getsender->youdu"; kind is the canonical message kind
// ("text", "location", ...). reason is "" for Exact, else the codec's
// explanation; it is kept cut to MaxReasonBytes, and only the first
// MaxReasons distinct ones per row and outcome are kept apart. An Outcome
// other than the three is not counted.
func (r *Registry) Shadow(route, candidate, pair, kind string, o Outcome, reason string) {
	if r == nil || int(o) >= numOutcomes {
		return
	}
	e := entry(r, r.shadow, shadowKey{route, candidate, pair, kind}, func(k shadowKey) shadowKey {
		return shadowKey{strings.Clone(k.route), strings.Clone(k.candidate), strings.Clone(k.pair), strings.Clone(k.kind)}
	})
	e.counts[o].Add(1)
	if o == Exact {
		return
	}
	reason = cutReason(reason)
	if reason == "" {
		reason = NoReason
	}
	e.mu.Lock()
	e.reasons[o].add(reason)
	e.mu.Unlock()
}

// cutReason returns s without surrounding space, cut to at most
// MaxReasonBytes on a UTF-8 boundary.
func cutReason(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= MaxReasonBytes {
		return s
	}
	i := MaxReasonBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.TrimSpace(s[:i])
}

// Mirror counts one (message, recipient) of a mirrored request. A
// Divergence other than the four is not counted.
func (r *Registry) Mirror(route, mirror, pair, kind string, d Divergence) {
	if r == nil || int(d) >= numDivergences {
		return
	}
	e := entry(r, r.mirror, mirrorKey{route, mirror, pair, kind}, func(k mirrorKey) mirrorKey {
		return mirrorKey{strings.Clone(k.route), strings.Clone(k.mirror), strings.Clone(k.pair), strings.Clone(k.kind)}
	})
	e.counts[d].Add(1)
}

// MirrorError counts one failed (message, recipient) by its canonical error
// code; side is "primary" or "mirror". Errors are counted per route and
// mirror, not per pair and kind: the report carries them on a MirrorRow of
// their own whose Pair and Kind are empty. Past MaxErrorCodes distinct codes
// per route and mirror, further codes are counted under OtherCodes.
func (r *Registry) MirrorError(route, mirror, side, code string) {
	if r == nil {
		return
	}
	e := entry(r, r.errors, errorsKey{route, mirror}, func(k errorsKey) errorsKey {
		return errorsKey{strings.Clone(k.route), strings.Clone(k.mirror)}
	})
	k := sideCode{side, code}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = make(map[sideCode]uint64)
	}
	if _, ok := e.counts[k]; !ok {
		switch known := e.knowsCode(code); {
		case known:
			k = sideCode{strings.Clone(side), strings.Clone(code)}
		case e.kept < MaxErrorCodes:
			e.kept++
			k = sideCode{strings.Clone(side), strings.Clone(code)}
		default:
			k = sideCode{strings.Clone(side), OtherCodes}
		}
	}
	e.counts[k]++
}

// knowsCode reports whether code is already kept for either side. The
// caller holds e.mu.
func (e *errorsEntry) knowsCode(code string) bool {
	for k := range e.counts {
		if k.code == code && code != OtherCodes {
			return true
		}
	}
	return false
}

// Job counts a background job of a route: job is "mirror" or "shadow";
// dropped is true when the route's queue was full and the job was dropped
// instead of queued.
func (r *Registry) Job(route, job string, dropped bool) {
	if r == nil {
		return
	}
	e := entry(r, r.jobs, jobKey{route, job}, func(k jobKey) jobKey {
		return jobKey{strings.Clone(k.route), strings.Clone(k.job)}
	})
	if dropped {
		e.dropped.Add(1)
	} else {
		e.done.Add(1)
	}
}

// Leg returns the counter of recipients a split or cohort route sent to
// target. The same (route, target) always gives the same counter, so a
// route resolved again after a reload keeps counting where it left off.
// A nil registry returns a nil counter, which counts nothing.
func (r *Registry) Leg(route, target string) *LegCounter {
	if r == nil {
		return nil
	}
	return entry(r, r.legs, legKey{route, target}, func(k legKey) legKey {
		return legKey{strings.Clone(k.route), strings.Clone(k.target)}
	})
}

// LegCounter counts the recipients one leg of a split or cohort received.
// Its zero value is ready; it is safe for concurrent use.
type LegCounter struct {
	n atomic.Uint64
}

// Add counts n more recipients; n <= 0 counts nothing. It is one atomic
// add and does not allocate. A nil counter counts nothing.
func (c *LegCounter) Add(n int) {
	if c == nil || n <= 0 {
		return
	}
	c.n.Add(uint64(n))
}

// Load returns the recipients counted so far.
func (c *LegCounter) Load() uint64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// Report is every count of a Registry at one moment: what
// Registry.Snapshot returns and the admin API serves as JSON.
type Report struct {
	Shadow []ShadowRow `json:"shadow"`
	Mirror []MirrorRow `json:"mirror"`
	Jobs   []JobRow    `json:"jobs"`
	Split  []SplitRow  `json:"split"`
}

// ShadowRow is the shadow translations of one kind of message, on one
// route, from one dialect to one candidate.
type ShadowRow struct {
	Route     string   `json:"route"`
	Candidate string   `json:"candidate"`
	Pair      string   `json:"pair"`
	Kind      string   `json:"kind"`
	Exact     uint64   `json:"exact"`
	Degraded  uint64   `json:"degraded"`
	Rejected  uint64   `json:"rejected"`
	Reasons   []Reason `json:"reasons,omitempty"` // most frequent first
}

// Reason is how often the codec gave one explanation for degrading or
// rejecting a message.
type Reason struct {
	Outcome string `json:"outcome"` // "degraded" or "rejected"
	Reason  string `json:"reason"`
	Count   uint64 `json:"count"`
}

// MirrorRow is how the mirrored recipients of one kind of message, on one
// route, from one dialect, fared on the primary and on the mirror. A row
// with an empty Pair and Kind carries the errors of the route and mirror.
type MirrorRow struct {
	Route       string       `json:"route"`
	Mirror      string       `json:"mirror"`
	Pair        string       `json:"pair"`
	Kind        string       `json:"kind"`
	Both        uint64       `json:"both"`
	PrimaryOnly uint64       `json:"primary_only"`
	MirrorOnly  uint64       `json:"mirror_only"`
	Neither     uint64       `json:"neither"`
	Errors      []ErrorCount `json:"errors,omitempty"` // per side and code, most frequent first
}

// ErrorCount is how many mirrored recipients failed on one side with one
// canonical error code.
type ErrorCount struct {
	Side  string `json:"side"`
	Code  string `json:"code"`
	Count uint64 `json:"count"`
}

// JobRow is the background jobs of one kind a route queued or dropped.
type JobRow struct {
	Route   string `json:"route"`
	Job     string `json:"job"`
	Done    uint64 `json:"done"`
	Dropped uint64 `json:"dropped"`
}

// SplitRow is the recipients a split or cohort route sent to one target.
type SplitRow struct {
	Route      string `json:"route"`
	Target     string `json:"target"`
	Recipients uint64 `json:"recipients"`
}

// Snapshot returns every count, rows sorted by route, then
// candidate/mirror/target, then pair, then kind. Its slices are never nil,
// so an empty report encodes as empty JSON arrays.
func (r *Registry) Snapshot() Report {
	rep := Report{Shadow: []ShadowRow{}, Mirror: []MirrorRow{}, Jobs: []JobRow{}, Split: []SplitRow{}}
	if r == nil {
		return rep
	}
	r.mu.RLock()
	defer r.mu.RUnlock()

	for k, e := range r.shadow {
		row := ShadowRow{Route: k.route, Candidate: k.candidate, Pair: k.pair, Kind: k.kind,
			Exact: e.counts[Exact].Load(), Degraded: e.counts[Degraded].Load(), Rejected: e.counts[Rejected].Load()}
		e.mu.Lock()
		for _, o := range []Outcome{Degraded, Rejected} {
			for reason, n := range e.reasons[o].counts {
				row.Reasons = append(row.Reasons, Reason{Outcome: o.String(), Reason: reason, Count: n})
			}
		}
		e.mu.Unlock()
		slices.SortFunc(row.Reasons, func(a, b Reason) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Outcome, b.Outcome), cmp.Compare(a.Reason, b.Reason))
		})
		rep.Shadow = append(rep.Shadow, row)
	}
	slices.SortFunc(rep.Shadow, func(a, b ShadowRow) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Candidate, b.Candidate),
			cmp.Compare(a.Pair, b.Pair), cmp.Compare(a.Kind, b.Kind))
	})

	mirrors := make(map[mirrorKey]int, len(r.mirror)+len(r.errors))
	for k, e := range r.mirror {
		mirrors[k] = len(rep.Mirror)
		rep.Mirror = append(rep.Mirror, MirrorRow{Route: k.route, Mirror: k.mirror, Pair: k.pair, Kind: k.kind,
			Both: e.counts[Both].Load(), PrimaryOnly: e.counts[PrimaryOnly].Load(),
			MirrorOnly: e.counts[MirrorOnly].Load(), Neither: e.counts[Neither].Load()})
	}
	for k, e := range r.errors {
		mk := mirrorKey{route: k.route, mirror: k.mirror}
		i, ok := mirrors[mk]
		if !ok {
			i = len(rep.Mirror)
			rep.Mirror = append(rep.Mirror, MirrorRow{Route: k.route, Mirror: k.mirror})
		}
		row := &rep.Mirror[i]
		e.mu.Lock()
		for sc, n := range e.counts {
			row.Errors = append(row.Errors, ErrorCount{Side: sc.side, Code: sc.code, Count: n})
		}
		e.mu.Unlock()
		slices.SortFunc(row.Errors, func(a, b ErrorCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Side, b.Side), cmp.Compare(a.Code, b.Code))
		})
	}
	slices.SortFunc(rep.Mirror, func(a, b MirrorRow) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Mirror, b.Mirror),
			cmp.Compare(a.Pair, b.Pair), cmp.Compare(a.Kind, b.Kind))
	})

	for k, e := range r.jobs {
		rep.Jobs = append(rep.Jobs, JobRow{Route: k.route, Job: k.job, Done: e.done.Load(), Dropped: e.dropped.Load()})
	}
	slices.SortFunc(rep.Jobs, func(a, b JobRow) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Job, b.Job))
	})

	for k, c := range r.legs {
		rep.Split = append(rep.Split, SplitRow{Route: k.route, Target: k.target, Recipients: c.Load()})
	}
	slices.SortFunc(rep.Split, func(a, b SplitRow) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Target, b.Target))
	})
	return rep
}

var (
	descShadow = prometheus.NewDesc("imrelay_shadow_messages_total",
		"Messages translated for a shadow candidate and never sent, by outcome: exact, degraded or rejected.",
		[]string{"route", "candidate", "pair", "kind", "outcome"}, nil)
	descMirror = prometheus.NewDesc("imrelay_mirror_recipients_total",
		"Mirrored (message, recipient) pairs by who delivered them: both, primary_only, mirror_only or neither.",
		[]string{"route", "mirror", "pair", "kind", "outcome"}, nil)
	descMirrorErrors = prometheus.NewDesc("imrelay_mirror_errors_total",
		"Mirrored (message, recipient) pairs that failed, by side (primary or mirror) and canonical error code.",
		[]string{"route", "mirror", "side", "code"}, nil)
	descJobs = prometheus.NewDesc("imrelay_migrate_jobs_total",
		"Background mirror and shadow jobs of a route, by result: done, or dropped because the route's queue was full.",
		[]string{"route", "job", "result"}, nil)
	descSplit = prometheus.NewDesc("imrelay_split_recipients_total",
		"Recipients a split or cohort route sent to each target.",
		[]string{"route", "target"}, nil)
)

// Describe sends the descriptors of the five migration metrics.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descShadow, descMirror, descMirrorErrors, descJobs, descSplit} {
		ch <- d
	}
}

// Collect sends the current counts. Every outcome of a row is sent, zero
// ones included, so rates start from a known zero. A row whose labels are
// not valid UTF-8 is left out rather than failing the scrape.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	if r == nil {
		return
	}
	send := func(d *prometheus.Desc, n uint64, labels ...string) {
		if m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(n), labels...); err == nil {
			ch <- m
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for k, e := range r.shadow {
		for o := range numOutcomes {
			send(descShadow, e.counts[o].Load(),
				k.route, k.candidate, k.pair, k.kind, outcomeNames[o])
		}
	}
	for k, e := range r.mirror {
		for d := range numDivergences {
			send(descMirror, e.counts[d].Load(),
				k.route, k.mirror, k.pair, k.kind, divergenceNames[d])
		}
	}
	for k, e := range r.errors {
		e.mu.Lock()
		for sc, n := range e.counts {
			send(descMirrorErrors, n,
				k.route, k.mirror, sc.side, sc.code)
		}
		e.mu.Unlock()
	}
	for k, e := range r.jobs {
		send(descJobs, e.done.Load(), k.route, k.job, "done")
		send(descJobs, e.dropped.Load(), k.route, k.job, "dropped")
	}
	for k, c := range r.legs {
		send(descSplit, c.Load(), k.route, k.target)
	}
}

var _ prometheus.Collector = (*Registry)(nil)
