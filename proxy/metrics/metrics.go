// Package metrics holds the relay's Prometheus metrics: one registry per
// relay, the vectors the request path counts into, and collectors that read
// the plugin pools and token brokers when Prometheus scrapes.
//
// The request path never looks a series up by its labels: a route resolves
// every child it needs once, when the route is built ([Set.Route],
// [Set.Provider], [Set.PluginFaults]), and a request only increments
// counters and observes histograms, which allocates nothing.
//
// docs/operations.md lists every metric with its type and labels.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcome is how a client request ended, as the requests counter labels it.
type Outcome uint8

// Outcomes. A request whose answer carries a request-level error is
// counted under that error's canonical code (see [Codes]); the others by
// what the provider made of its messages.
const (
	OutcomeOK      Outcome = iota // every message accepted (or none to send)
	OutcomePartial                // some accepted, some not
	OutcomeFailed                 // none accepted
	numPlainOutcomes
)

// Codes are the canonical error codes a request-level failure can carry
// (sdk/abi), in the order their outcome values follow OutcomeFailed.
var Codes = []string{
	"bad_request", "unauthorized", "forbidden", "not_found", "too_large",
	"unsupported", "rate_limited", "busy", "timeout", "not_sent", "upstream", "internal",
}

// CodeOutcome returns the outcome of a request-level failure with code, or
// the outcome for internal when the code is unknown.
func CodeOutcome(code string) Outcome {
	for i, c := range Codes {
		if c == code {
			return numPlainOutcomes + Outcome(i)
		}
	}
	return numPlainOutcomes + Outcome(len(Codes)-1)
}

// String returns the outcome's label value.
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomePartial:
		return "partial"
	case OutcomeFailed:
		return "failed"
	}
	if i := int(o - numPlainOutcomes); i >= 0 && i < len(Codes) {
		return Codes[i]
	}
	return "internal"
}

// numOutcomes is the number of distinct outcomes.
var numOutcomes = int(numPlainOutcomes) + len(Codes)

// Fault kinds of a plugin call, as imrelay_plugin_faults_total labels them.
const (
	FaultTrap      = "trap"
	FaultDeadline  = "deadline"
	FaultMemory    = "memory"
	FaultBadOutput = "bad_output"
	FaultOther     = "other"
)

// FaultKinds lists the fault kinds, in the order of [Faults]' fields.
var FaultKinds = []string{FaultTrap, FaultDeadline, FaultMemory, FaultBadOutput, FaultOther}

// Provider answers, as imrelay_provider_requests_total labels them.
var providerResults = []string{"2xx", "3xx", "4xx", "5xx", "not_sent", "timeout", "error"}

// Set is the metrics of one relay.
type Set struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	fanout    *prometheus.HistogramVec
	provReqs  *prometheus.CounterVec
	provDur   *prometheus.HistogramVec
	faults    *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	reloadAt  prometheus.Gauge
	pluginsFn func() []PluginSample
	brokersFn func() []BrokerSample
}

// PluginSample is what the plugin collector reads from one plugin at
// scrape time (wasmhost.Plugin.Stats and its pool bound).
type PluginSample struct {
	Name     string
	Hash     string
	PoolSize int
	Live     int
	Idle     int
	InUse    int
	Memory   uint64
	Created  int64
	Faults   int64
	Recycled int64
	Backoffs int64
}

// BrokerSample is one provider's token broker counters at scrape time.
type BrokerSample struct {
	Provider   string
	Fetches    int64
	Failures   int64
	Background int64
	Drops      int64
}

// Sources are the functions the scrape-time collectors call.
type Sources struct {
	Plugins  func() []PluginSample
	Brokers  func() []BrokerSample
	InFlight func() float64
}

// Buckets of the latency histograms, in seconds: from a fast local
// translation (1 ms) to the longest request timeout worth telling apart.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Buckets of the fan-out histogram: provider requests per client request.
var fanoutBuckets = []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1000}

// New returns the metrics of one relay, registered in a registry of their
// own together with Go's runtime and process collectors.
func New(src Sources) *Set {
	s := &Set{reg: prometheus.NewRegistry(), pluginsFn: src.Plugins, brokersFn: src.Brokers}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imrelay_requests_total",
		Help: "Client requests answered, by route, client dialect, target dialect and outcome (ok, partial, failed, or the canonical code of a request-level error).",
	}, []string{"route", "dialect", "target", "outcome"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imrelay_request_duration_seconds",
		Help:    "Time from routing a client request to writing its answer, by route.",
		Buckets: latencyBuckets,
	}, []string{"route"})
	s.fanout = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imrelay_fanout_requests",
		Help:    "Provider requests made for one client request, by route.",
		Buckets: fanoutBuckets,
	}, []string{"route"})
	s.provReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imrelay_provider_requests_total",
		Help: "Requests sent to a provider, by provider and result (HTTP status class, or not_sent, timeout, error when no answer came).",
	}, []string{"provider", "result"})
	s.provDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "imrelay_provider_request_duration_seconds",
		Help:    "Time of one provider request, token and retries included, by provider.",
		Buckets: latencyBuckets,
	}, []string{"provider"})
	s.faults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imrelay_plugin_faults_total",
		Help: "Plugin calls that faulted while serving a request (the instance is discarded), by plugin and kind: trap, deadline, memory, bad_output, other.",
	}, []string{"plugin", "kind"})
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imrelay_reloads_total",
		Help: "Configuration reloads, by result (ok, error).",
	}, []string{"result"})
	s.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "imrelay_config_loaded_timestamp_seconds",
		Help: "Unix time at which the configuration in effect was loaded.",
	})
	s.reg.MustRegister(s.requests, s.duration, s.fanout, s.provReqs, s.provDur, s.faults, s.reloads, s.reloadAt,
		&poolCollector{s}, &brokerCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.InFlight != nil {
		s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "imrelay_requests_in_flight",
			Help: "Client requests being served now.",
		}, src.InFlight))
	}
	s.reloads.WithLabelValues("ok")
	s.reloads.WithLabelValues("error")
	return s
}

// Registry returns the registry to serve (promhttp.HandlerFor).
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Route is the pre-resolved series of one route.
type Route struct {
	outcomes []prometheus.Counter // by Outcome
	duration prometheus.Observer
	fanout   prometheus.Observer
}

// Route resolves the series of a route. Call it when the route is built.
func (s *Set) Route(name, dialect, target string) *Route {
	r := &Route{
		outcomes: make([]prometheus.Counter, numOutcomes),
		duration: s.duration.WithLabelValues(name),
		fanout:   s.fanout.WithLabelValues(name),
	}
	for o := range r.outcomes {
		r.outcomes[o] = s.requests.WithLabelValues(name, dialect, target, Outcome(o).String())
	}
	return r
}

// Done counts one answered request. It does not allocate.
func (r *Route) Done(o Outcome, d time.Duration, calls int) {
	if int(o) >= len(r.outcomes) {
		o = CodeOutcome("internal")
	}
	r.outcomes[o].Inc()
	r.duration.Observe(d.Seconds())
	r.fanout.Observe(float64(calls))
}

// ForgetRoute drops every series of a route that no longer exists.
func (s *Set) ForgetRoute(name string) {
	l := prometheus.Labels{"route": name}
	s.requests.DeletePartialMatch(l)
	s.duration.DeletePartialMatch(l)
	s.fanout.DeletePartialMatch(l)
}

// Provider is the pre-resolved series of one provider.
type Provider struct {
	results  []prometheus.Counter // by providerResults
	duration prometheus.Observer
}

// Provider resolves the series of a provider.
func (s *Set) Provider(name string) *Provider {
	p := &Provider{duration: s.provDur.WithLabelValues(name)}
	for _, r := range providerResults {
		p.results = append(p.results, s.provReqs.WithLabelValues(name, r))
	}
	return p
}

// Answered counts a provider request that got an HTTP answer.
func (p *Provider) Answered(status int, d time.Duration) {
	i := status/100 - 2
	if i < 0 || i > 3 {
		i = 6 // "error": a status outside 2xx–5xx
	}
	p.results[i].Inc()
	p.duration.Observe(d.Seconds())
}

// Failed counts a provider request that got no answer: code is the
// canonical code of the failure (not_sent, timeout, anything else).
func (p *Provider) Failed(code string, d time.Duration) {
	i := 6
	switch code {
	case "not_sent":
		i = 4
	case "timeout":
		i = 5
	}
	p.results[i].Inc()
	p.duration.Observe(d.Seconds())
}

// ForgetProvider drops the series of a provider that no longer exists.
func (s *Set) ForgetProvider(name string) {
	l := prometheus.Labels{"provider": name}
	s.provReqs.DeletePartialMatch(l)
	s.provDur.DeletePartialMatch(l)
}

// Faults is the pre-resolved fault counters of one plugin, by kind.
type Faults [5]prometheus.Counter

// PluginFaults resolves the fault counters of a plugin.
func (s *Set) PluginFaults(plugin string) *Faults {
	var f Faults
	for i, k := range FaultKinds {
		f[i] = s.faults.WithLabelValues(plugin, k)
	}
	return &f
}

// Count counts one fault of kind (one of [FaultKinds]).
func (f *Faults) Count(kind string) {
	for i, k := range FaultKinds {
		if k == kind {
			f[i].Inc()
			return
		}
	}
	f[len(f)-1].Inc()
}

// Reloaded counts a reload; ok reports whether it took effect.
func (s *Set) Reloaded(ok bool, at time.Time) {
	if !ok {
		s.reloads.WithLabelValues("error").Inc()
		return
	}
	s.reloads.WithLabelValues("ok").Inc()
	s.Loaded(at)
}

// Loaded records when the configuration in effect was loaded.
func (s *Set) Loaded(at time.Time) { s.reloadAt.Set(float64(at.UnixNano()) / 1e9) }

var (
	descPoolSize = prometheus.NewDesc("imrelay_plugin_pool_size",
		"Most instances the plugin's pool may hold.", []string{"plugin"}, nil)
	descInstances = prometheus.NewDesc("imrelay_plugin_instances",
		"Instances of the plugin by state: idle, in_use, other (being built or replaced).", []string{"plugin", "state"}, nil)
	descMemory = prometheus.NewDesc("imrelay_plugin_memory_bytes",
		"Linear memory of the plugin's idle instances.", []string{"plugin"}, nil)
	descCreated = prometheus.NewDesc("imrelay_plugin_instantiations_total",
		"Instances created, the first one at load included.", []string{"plugin"}, nil)
	descDiscards = prometheus.NewDesc("imrelay_plugin_discards_total",
		"Instances discarded, by reason: fault (trap, deadline, memory cap, bad output) or recycle (max_calls, recycle_memory).", []string{"plugin", "reason"}, nil)
	descBackoffs = prometheus.NewDesc("imrelay_plugin_backoffs_total",
		"Times the plugin entered crash back-off.", []string{"plugin"}, nil)
	descInfo = prometheus.NewDesc("imrelay_plugin_info",
		"Always 1: the sha256 of the plugin's module in effect.", []string{"plugin", "sha256"}, nil)

	descTokenFetches = prometheus.NewDesc("imrelay_token_fetches_total",
		"Token calls to the provider (Easemob, Youdu), failed ones included.", []string{"provider"}, nil)
	descTokenFailures = prometheus.NewDesc("imrelay_token_failures_total",
		"Token calls to the provider that failed.", []string{"provider"}, nil)
	descTokenRefresh = prometheus.NewDesc("imrelay_token_refreshes_total",
		"Background refreshes started ahead of a token's expiry.", []string{"provider"}, nil)
	descTokenDrops = prometheus.NewDesc("imrelay_token_drops_total",
		"Tokens dropped after the provider called them expired.", []string{"provider"}, nil)
)

// poolCollector reads the plugin pools at scrape time.
type poolCollector struct{ s *Set }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolSize, descInstances, descMemory, descCreated, descDiscards, descBackoffs, descInfo} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.pluginsFn == nil {
		return
	}
	for _, p := range c.s.pluginsFn() {
		ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(p.PoolSize), p.Name)
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(p.Idle), p.Name, "idle")
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(p.InUse), p.Name, "in_use")
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(max(0, p.Live-p.Idle-p.InUse)), p.Name, "other")
		ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(p.Memory), p.Name)
		ch <- prometheus.MustNewConstMetric(descCreated, prometheus.CounterValue, float64(p.Created), p.Name)
		ch <- prometheus.MustNewConstMetric(descDiscards, prometheus.CounterValue, float64(p.Faults), p.Name, "fault")
		ch <- prometheus.MustNewConstMetric(descDiscards, prometheus.CounterValue, float64(p.Recycled), p.Name, "recycle")
		ch <- prometheus.MustNewConstMetric(descBackoffs, prometheus.CounterValue, float64(p.Backoffs), p.Name)
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, p.Name, p.Hash)
	}
}

// brokerCollector reads the token brokers at scrape time.
type brokerCollector struct{ s *Set }

func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTokenFetches, descTokenFailures, descTokenRefresh, descTokenDrops} {
		ch <- d
	}
}

func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.brokersFn == nil {
		return
	}
	for _, b := range c.s.brokersFn() {
		ch <- prometheus.MustNewConstMetric(descTokenFetches, prometheus.CounterValue, float64(b.Fetches), b.Provider)
		ch <- prometheus.MustNewConstMetric(descTokenFailures, prometheus.CounterValue, float64(b.Failures), b.Provider)
		ch <- prometheus.MustNewConstMetric(descTokenRefresh, prometheus.CounterValue, float64(b.Background), b.Provider)
		ch <- prometheus.MustNewConstMetric(descTokenDrops, prometheus.CounterValue, float64(b.Drops), b.Provider)
	}
}
