package proxy

import (
	"context"
	"fmt"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/migrate"
	"github.com/imrelay/imrelay/sdk/abi"
)

// The migration controls of a route (docs/migration.md): a split or a
// cohort divides its recipients between legs, in the request; a mirror
// and shadow candidates get a copy of its messages, in the background.

// assigner decides which leg each (message, recipient) goes to.
type assigner struct {
	key    migrate.Key
	split  *migrate.Split  // a weighted split, or
	cohort *migrate.Cohort // a cohort: its recipients go to leg 1, the rest to leg 0
	routed []*migrate.LegCounter
}

// assignRecipient is the assign function of migrate.Partition.
func (x *exchange) assignRecipient(_ int, m gjson.Result, toType, id string) int {
	a := x.r.assign
	if a.cohort != nil {
		if a.cohort.Contains(toType, id) {
			return 1
		}
		return 0
	}
	from := ""
	if a.key != migrate.KeyRecipient {
		from = m.Get("from").Str
	}
	x.key = migrate.AppendKey(x.key[:0], a.key, from, toType, id)
	return a.split.Leg(migrate.Bucket(x.key))
}

// deliverSplit delivers each leg its share of the batch, one leg after
// the other, and merges their results into x.results: the client gets one
// answer with every recipient's outcome. A leg that fails as a whole
// fails its own recipients only.
func (x *exchange) deliverSplit() *abi.GuestError {
	r := x.r
	if x.assignF == nil {
		x.assignF = x.assignRecipient
	}
	var err error
	x.parts, err = migrate.Partition(x.batch, len(r.legs), x.assignF, x.parts)
	if err != nil {
		x.s.logger.Error("cannot split a batch between providers", "route", r.name, "err", err)
		return &abi.GuestError{Code: abi.CodeInternal, Message: "the relay cannot split the messages between providers; see the relay's log"}
	}
	for len(x.partRes) < len(x.parts) {
		x.partRes = append(x.partRes, nil)
	}
	full := x.batch
	for i := range x.parts {
		p := &x.parts[i]
		if p.Batch == nil {
			continue
		}
		r.assign.routed[i].Add(p.N)
		x.batch = p.Batch
		err := x.deliver(r.legs[i])
		p.Batch = x.batch // the media bridge may have rewritten it
		if err != nil {
			x.partRes[i] = appendErrorResults(x.partRes[i][:0], x.legError(err))
		} else {
			x.partRes[i] = append(x.partRes[i][:0], x.results...)
		}
	}
	x.batch = full
	x.results = migrate.Merge(x.results[:0], x.parts, x.partRes)
	return nil
}

// appendErrorResults appends a results document holding a request-level
// error and no result.
func appendErrorResults(b []byte, ge *abi.GuestError) []byte {
	b = append(b, `{"v":1,"error":`...)
	b = ge.AppendJSON(b)
	return append(b, `,"results":[]}`...)
}

// job is the background work one request leaves: its messages for the
// mirror and the shadow candidates, and the primary's results to compare
// the mirror's with. A queued job holds a reference on its table, so the
// plugins it needs stay open and a reload waits for it.
type job struct {
	t       *table
	r       *route
	batch   []byte
	primary []byte
	kinds   []string
}

var jobs = sync.Pool{New: func() any { return new(job) }}

func putJob(j *job) {
	j.t, j.r = nil, nil
	trim(&j.batch)
	trim(&j.primary)
	jobs.Put(j)
}

// copyForJobs keeps the batch for the route's background controls before
// the media bridge rewrites it for the primary.
func (x *exchange) copyForJobs() {
	if x.r.jobs == nil {
		return
	}
	j := jobs.Get().(*job)
	j.batch = append(j.batch[:0], x.batch...)
	x.job = j
}

// enqueueJobs hands the job to the route's workers, or drops and counts
// it when the queue is full: the client's request never waits for it.
func (x *exchange) enqueueJobs() {
	j := x.job
	if j == nil {
		return
	}
	x.job = nil
	r := x.r
	j.t, j.r = x.t, r
	if r.mirror != nil {
		j.primary = append(j.primary[:0], x.results...)
	}
	x.t.refs.Add(1)
	select {
	case r.jobs <- j:
	default:
		x.t.release() // never the last reference: the request holds one
		x.s.countJobs(r, true)
		putJob(j)
	}
}

func (s *Server) countJobs(r *route, dropped bool) {
	if r.mirror != nil {
		s.migrate.Job(r.name, "mirror", dropped)
	}
	if len(r.shadow) > 0 {
		s.migrate.Job(r.name, "shadow", dropped)
	}
}

// startWorkers starts the workers of every route of t with background
// controls. They stop when t is drained: every queued job holds a
// reference on t, so by then the queues are empty.
func (s *Server) startWorkers(t *table) {
	for i, r := range t.router.routes {
		if r.jobs == nil {
			continue
		}
		for range t.cfg.Routes[i].Migrate.Workers {
			go s.work(t, r)
		}
	}
}

func (s *Server) work(t *table, r *route) {
	x := new(exchange) // the worker's own, so its buffers stay warm
	for {
		select {
		case j := <-r.jobs:
			s.runJob(x, j)
		case <-t.drained:
			return
		}
	}
}

func (s *Server) runJob(x *exchange, j *job) {
	t, r := j.t, j.r
	if t.retired.Load() {
		s.countJobs(r, true) // the configuration changed: not run, counted
	} else {
		if r.mirror != nil {
			x.startJob(s, t, r)
			x.runMirror(j)
			x.finish()
		}
		for _, l := range r.shadow {
			s.runShadow(x, l, j)
		}
		s.countJobs(r, false)
	}
	putJob(j)
	t.release()
}

// startJob prepares x for one step of background work on route r (a
// request without a client), with a deadline of its own: a slow mirror
// does not eat the time of the shadow encodes after it.
func (x *exchange) startJob(s *Server, t *table, r *route) {
	x.start(s, t, r, nil)
	x.hasBatch = true
}

// runMirror delivers the job's messages to the mirror and counts, per
// (message, recipient), which side delivered them.
func (x *exchange) runMirror(j *job) {
	l := x.r.mirror
	x.batch = append(x.batch[:0], j.batch...)
	if err := x.deliver(l); err != nil {
		x.results = appendErrorResults(x.results[:0], x.legError(err))
	}
	reg, route := x.s.migrate, x.r.name
	migrate.Compare(j.batch, j.primary, x.results, func(_ int, kind string, pOK bool, pCode string, mOK bool, mCode string) {
		d := migrate.Neither
		switch {
		case pOK && mOK:
			d = migrate.Both
		case pOK:
			d = migrate.PrimaryOnly
		case mOK:
			d = migrate.MirrorOnly
		}
		reg.Mirror(route, l.name, l.dialects, kind, d)
		if !pOK {
			reg.MirrorError(route, l.name, "primary", pCode)
		}
		if !mOK {
			reg.MirrorError(route, l.name, "mirror", mCode)
		}
	})
}

// runShadow translates each message of the job for the candidate l,
// without sending anything, and counts what the candidate would make of
// it: exact when it encodes under the policy reject, degraded when only
// the policy degrade encodes it, rejected otherwise.
func (s *Server) runShadow(x *exchange, l *leg, j *job) {
	j.kinds = migrate.Kinds(j.batch, j.kinds[:0])
	for i, kind := range j.kinds {
		x.startJob(s, j.t, j.r)
		var ok bool
		if x.batch, ok = migrate.Single(x.batch[:0], j.batch, i); !ok {
			x.finish()
			continue
		}
		o, reason, counted := x.shadowOne(l)
		x.finish()
		if counted {
			s.migrate.Shadow(j.r.name, l.name, l.dialects, kind, o, reason)
		}
	}
}

// shadowOne classifies x.batch (one message) for l. It reports counted
// false when the relay, not the candidate, could not tell (its plugins
// were all busy until the deadline).
func (x *exchange) shadowOne(l *leg) (o migrate.Outcome, reason string, counted bool) {
	err := x.encode(l, l.rejectOpts)
	if err == nil {
		return migrate.Exact, "", true
	}
	reason, counted = x.shadowReason(l, err)
	if !counted {
		return 0, "", false
	}
	if err := x.encode(l, l.degradeOpts); err != nil {
		reason, counted = x.shadowReason(l, err)
		return migrate.Rejected, reason, counted
	}
	return migrate.Degraded, reason, true
}

// encode runs l's encode_request on x.batch with opts and checks its
// output, sending nothing.
func (x *exchange) encode(l *leg, opts []byte) error {
	f := abi.AppendFrame(x.frame[:0], 2)
	f = abi.AppendField(f, opts)
	x.frame = abi.AppendField(f, x.batch)
	if err := x.call(l.target, abi.HookEncodeRequest, &x.reqs); err != nil {
		return err
	}
	return x.prepare()
}

// shadowReason is the reason a candidate gives for not carrying a
// message: its own error message, or the fault (logged and counted once,
// by pluginError).
func (x *exchange) shadowReason(l *leg, err error) (string, bool) {
	ge := x.pluginError(l.target, err)
	if ge.Code == abi.CodeBusy || ge.Code == abi.CodeTimeout {
		return "", false
	}
	return ge.Message, true
}

// compileControls resolves the route's legs and migration controls.
// legFor builds the leg of a provider.
func (s *Server) compileControls(t *table, rc *config.Route, r *route, legFor func(name string) (*leg, error)) error {
	m := &rc.Migrate
	names := rc.Legs()
	for _, name := range names {
		l, err := legFor(name)
		if err != nil {
			return err
		}
		r.legs = append(r.legs, l)
	}
	if len(names) > 1 {
		a := &assigner{}
		var err error
		if a.key, err = migrate.ParseKey(m.Key); err != nil {
			return fmt.Errorf("migrate.key: %w", err)
		}
		if m.Cohort != nil {
			if a.cohort, err = migrate.LoadCohort(m.Cohort.File); err != nil {
				return fmt.Errorf("migrate.cohort.file: %w", err)
			}
			go a.cohort.Watch(t.ctx, m.Cohort.CheckEvery, func(err error) {
				s.logger.Warn("cohort file not reloaded; the previous list stays in effect", "route", rc.Name, "err", err)
			})
		} else {
			w := make([]int, len(names))
			for i, n := range names {
				w[i] = m.Split[n]
			}
			if a.split, err = migrate.NewSplit(w); err != nil {
				return fmt.Errorf("migrate.split: %w", err)
			}
		}
		for _, n := range names {
			a.routed = append(a.routed, s.migrate.Leg(rc.Name, n))
		}
		r.assign = a
	}
	if m.Mirror != "" {
		l, err := legFor(m.Mirror)
		if err != nil {
			return err
		}
		r.mirror = l
	}
	for _, name := range m.Shadow {
		l, err := legFor(name)
		if err != nil {
			return err
		}
		pc := t.cfg.Providers[name]
		if l.rejectOpts, err = targetOptions(pc, rc, config.PolicyReject); err != nil {
			return err
		}
		if l.degradeOpts, err = targetOptions(pc, rc, config.PolicyDegrade); err != nil {
			return err
		}
		r.shadow = append(r.shadow, l)
	}
	if r.mirror != nil || len(r.shadow) > 0 {
		r.jobs = make(chan *job, m.Queue)
	}
	return nil
}

// waitDrained waits, until ctx is done, for the requests and background
// jobs still on t.
func waitDrained(ctx context.Context, t *table) error {
	select {
	case <-t.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proxy: requests or background jobs still running: %w", ctx.Err())
	}
}
