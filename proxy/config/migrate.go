package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Migration defaults.
const (
	DefaultMigrateQueue     = 1024
	DefaultMigrateWorkers   = 2
	DefaultCohortCheckEvery = 2 * time.Second
	maxMigrateWorkers       = 64
)

// Split keys (see docs/migration.md).
var MigrateKeys = []string{"sender", "recipient", "conversation"}

// Migrate is a route's migration controls (docs/migration.md): which
// provider each recipient goes to, a mirror and shadow candidates.
type Migrate struct {
	// Key is what a split hashes per (message, recipient): sender,
	// recipient or conversation; default recipient.
	Key string `yaml:"key"`
	// Split weighs providers against each other: name → relative weight.
	// Providers own consecutive hash ranges in the order of their names.
	Split map[string]int `yaml:"split"`
	// Cohort sends the recipients a file lists to another provider.
	Cohort *Cohort `yaml:"cohort"`
	// Mirror is a provider every request is also sent to, in the
	// background; the client's answer comes from the route's providers.
	Mirror string `yaml:"mirror"`
	// Shadow are providers every message is translated for, never sent.
	Shadow []string `yaml:"shadow"`
	// Queue bounds the background jobs (mirror, shadow) waiting per route.
	Queue int `yaml:"queue"`
	// Workers serve the queue, per route.
	Workers int `yaml:"workers"`
}

// Cohort is a list of recipients that go to Target instead of the
// route's target.
type Cohort struct {
	Target string `yaml:"target"`
	// File holds one recipient per line; relative to the configuration
	// file. It is re-read when it changes.
	File string `yaml:"file"`
	// CheckEvery is how often the file is checked for changes.
	CheckEvery time.Duration `yaml:"check_every"`
}

// Enabled reports whether the route uses any migration control.
func (m *Migrate) Enabled() bool {
	return len(m.Split) > 0 || m.Cohort != nil || m.Mirror != "" || len(m.Shadow) > 0
}

// Legs returns the providers the route's client traffic is divided
// between, in hash-range order: the split's providers sorted by name, or
// the route's target then the cohort's. A route without split or cohort
// has one leg, its target.
func (r *Route) Legs() []string {
	switch m := &r.Migrate; {
	case len(m.Split) > 0:
		return sortedKeys(m.Split)
	case m.Cohort != nil:
		return []string{r.Target, m.Cohort.Target}
	}
	return []string{r.Target}
}

func (m *Migrate) validate(v *validator, key string, r *Route, c *Config) {
	key += ".migrate"
	provider := func(k, name string) bool {
		if c.Providers[name] == nil {
			v.add(k, fmt.Sprintf("no provider named %q", name), "use one of: "+strings.Join(c.ProviderNames(), ", "))
			return false
		}
		return true
	}
	if m.Key == "" {
		m.Key = "recipient"
	} else if !slices.Contains(MigrateKeys, m.Key) {
		v.add(key+".key", fmt.Sprintf("%q is not a split key", m.Key), "use one of: "+strings.Join(MigrateKeys, ", "))
	}
	if len(m.Split) > 0 {
		sum := 0
		for _, name := range sortedKeys(m.Split) {
			w := m.Split[name]
			provider(key+".split."+name, name)
			if w < 0 {
				v.add(key+".split."+name, fmt.Sprintf("weight %d is negative", w), "use 0 to send a provider nothing")
			}
			sum += max(w, 0)
		}
		switch {
		case len(m.Split) < 2:
			v.add(key+".split", "names one provider; a split divides traffic between two or more", "add the provider to move to, e.g. `split: {"+r.Target+": 90, NEW: 10}`")
		case sum == 0:
			v.add(key+".split", "the weights add up to 0", "give at least one provider a positive weight")
		}
		if _, ok := m.Split[r.Target]; !ok && r.Target != "" {
			v.add(key+".split", fmt.Sprintf("does not name the route's target %q", r.Target), "list it with the weight it keeps, e.g. `"+r.Target+": 90`")
		}
		if m.Cohort != nil {
			v.add(key+".cohort", "a route has a split or a cohort, not both", "remove one of them")
		}
	}
	if ch := m.Cohort; ch != nil {
		switch {
		case ch.Target == "":
			v.add(key+".cohort.target", "missing", "name the provider the listed recipients move to")
		case ch.Target == r.Target:
			v.add(key+".cohort.target", fmt.Sprintf("is the route's target %q", r.Target), "name the provider the listed recipients move to")
		default:
			provider(key+".cohort.target", ch.Target)
		}
		if ch.File == "" {
			v.add(key+".cohort.file", "missing", "name a file with one recipient per line (docs/migration.md)")
		} else {
			if !filepath.IsAbs(ch.File) {
				ch.File = filepath.Join(c.dir(), ch.File)
			}
			if _, err := os.Stat(ch.File); err != nil {
				v.add(key+".cohort.file", err.Error(), "create the file (it may be empty) or fix the path; relative paths start at the configuration file's folder")
			}
		}
		if ch.CheckEvery == 0 {
			ch.CheckEvery = DefaultCohortCheckEvery
		} else if ch.CheckEvery < 100*time.Millisecond {
			v.add(key+".cohort.check_every", fmt.Sprintf("%s is too often", ch.CheckEvery), "use a duration of 100ms or more, such as 2s")
		}
	}
	if m.Mirror != "" && provider(key+".mirror", m.Mirror) {
		if slices.Contains(r.Legs(), m.Mirror) {
			v.add(key+".mirror", fmt.Sprintf("%q already receives this route's messages", m.Mirror), "mirror to a provider the route does not send to")
		}
	}
	seen := map[string]bool{}
	for i, name := range m.Shadow {
		k := fmt.Sprintf("%s.shadow[%d]", key, i)
		if seen[name] {
			v.add(k, fmt.Sprintf("%q is listed twice", name), "list each candidate once")
		}
		seen[name] = true
		provider(k, name)
	}
	if m.Queue == 0 {
		m.Queue = DefaultMigrateQueue
	} else if m.Queue < 1 {
		v.add(key+".queue", fmt.Sprintf("%d is not a queue size", m.Queue), fmt.Sprintf("use a positive count such as %d", DefaultMigrateQueue))
	}
	if m.Workers == 0 {
		m.Workers = DefaultMigrateWorkers
	} else if m.Workers < 1 || m.Workers > maxMigrateWorkers {
		v.add(key+".workers", fmt.Sprintf("%d is outside 1..%d", m.Workers, maxMigrateWorkers), fmt.Sprintf("use a count such as %d", DefaultMigrateWorkers))
	}
}
