package metrics

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestOutcomes(t *testing.T) {
	seen := map[string]bool{}
	for o := Outcome(0); int(o) < numOutcomes; o++ {
		s := o.String()
		if seen[s] {
			t.Errorf("outcome %d repeats label %q", o, s)
		}
		seen[s] = true
	}
	for _, c := range Codes {
		if got := CodeOutcome(c).String(); got != c {
			t.Errorf("CodeOutcome(%q) = %q", c, got)
		}
	}
	if got := CodeOutcome("no_such_code").String(); got != "internal" {
		t.Errorf("an unknown code counts as %q, want internal", got)
	}
}

// value reads one series of a vector-backed metric.
func value(t *testing.T, s *Set, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return metricValue(m)
		}
	}
	return -1
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetGauge().GetValue()
}

// TestHotPathAllocs: counting a request and a provider call allocates
// nothing once the series are resolved.
func TestHotPathAllocs(t *testing.T) {
	s := New(Sources{})
	r := s.Route("r1", "netease", "easemob")
	p := s.Provider("em")
	f := s.PluginFaults("netease")
	n := testing.AllocsPerRun(200, func() {
		r.Done(OutcomePartial, 3*time.Millisecond, 2)
		p.Answered(200, time.Millisecond)
		p.Failed("timeout", time.Millisecond)
		f.Count(FaultTrap)
	})
	if n != 0 {
		t.Errorf("%.1f allocations per request", n)
	}
	if v := value(t, s, "imrelay_requests_total", map[string]string{"route": "r1", "outcome": "partial"}); v != 201 {
		t.Errorf("partial = %v, want 201", v)
	}
	if v := value(t, s, "imrelay_provider_requests_total", map[string]string{"provider": "em", "result": "timeout"}); v != 201 {
		t.Errorf("provider timeouts = %v, want 201", v)
	}
	if v := value(t, s, "imrelay_plugin_faults_total", map[string]string{"plugin": "netease", "kind": "trap"}); v != 201 {
		t.Errorf("traps = %v, want 201", v)
	}
	s.ForgetRoute("r1")
	if v := value(t, s, "imrelay_requests_total", map[string]string{"route": "r1"}); v != -1 {
		t.Errorf("a forgotten route still has series")
	}
}

func TestCollectors(t *testing.T) {
	s := New(Sources{
		Plugins: func() []PluginSample {
			return []PluginSample{{Name: "netease", Hash: "ab", PoolSize: 4, Live: 3, Idle: 2, InUse: 1, Memory: 3 << 20, Created: 5, Faults: 1, Recycled: 2}}
		},
		Brokers: func() []BrokerSample { return []BrokerSample{{Provider: "em", Fetches: 3, Failures: 1}} },
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"imrelay_plugin_pool_size", map[string]string{"plugin": "netease"}, 4},
		{"imrelay_plugin_instances", map[string]string{"plugin": "netease", "state": "in_use"}, 1},
		{"imrelay_plugin_discards_total", map[string]string{"plugin": "netease", "reason": "recycle"}, 2},
		{"imrelay_plugin_memory_bytes", map[string]string{"plugin": "netease"}, 3 << 20},
		{"imrelay_token_failures_total", map[string]string{"provider": "em"}, 1},
		{"imrelay_token_fetches_total", map[string]string{"provider": "em"}, 3},
	} {
		if v := value(t, s, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
}
