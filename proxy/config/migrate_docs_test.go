package config

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docBlock is one ```yaml block of a document, with the "## " heading it
// sits under and the ```text blocks of the same section (the example
// cohort files).
type docBlock struct {
	heading string
	yaml    string
	texts   []string
}

// docBlocks returns every ```yaml block of doc, in order.
func docBlocks(doc string) []docBlock {
	var (
		blocks  []docBlock
		texts   = map[string][]string{}
		heading string
		fence   string // the language of the open fence; "" outside one
		open    bool
		body    strings.Builder
	)
	for line := range strings.Lines(doc) {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case open && trimmed == "```":
			switch fence {
			case "yaml":
				blocks = append(blocks, docBlock{heading: heading, yaml: body.String()})
			case "text":
				texts[heading] = append(texts[heading], body.String())
			}
			open = false
		case open:
			body.WriteString(line)
		case strings.HasPrefix(trimmed, "```"):
			open, fence = true, strings.TrimPrefix(trimmed, "```")
			body.Reset()
		case strings.HasPrefix(trimmed, "## "):
			heading = strings.TrimPrefix(trimmed, "## ")
		}
	}
	for i := range blocks {
		blocks[i].texts = texts[blocks[i].heading]
	}
	return blocks
}

var (
	envRef  = regexp.MustCompile(`\{env:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}`)
	stepNum = regexp.MustCompile(`^(\d+)\.`)
)

// loadDocBlock writes b into a fresh folder as relay.yaml, with the
// cohort files it names and the environment variables it reads, and
// loads it.
func loadDocBlock(t *testing.T, b docBlock) *Config {
	t.Helper()
	if strings.Contains(b.yaml, "{file:") {
		t.Errorf("docs/migration.md, %q: a secret from a file; the playbook uses {env: NAME} for every secret", b.heading)
	}
	for _, m := range envRef.FindAllStringSubmatch(b.yaml, -1) {
		value := "secret-of-" + m[1]
		if strings.Contains(m[1], "AES") {
			value = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
		}
		t.Setenv(m[1], value)
	}
	dir := t.TempDir()
	var shape struct {
		Routes []struct {
			Migrate struct {
				Cohort *struct {
					File string `yaml:"file"`
				} `yaml:"cohort"`
			} `yaml:"migrate"`
		} `yaml:"routes"`
	}
	if err := yaml.Unmarshal([]byte(b.yaml), &shape); err != nil {
		t.Fatalf("docs/migration.md, %q: not YAML: %v", b.heading, err)
	}
	for _, r := range shape.Routes {
		ch := r.Migrate.Cohort
		if ch == nil || ch.File == "" {
			continue
		}
		if filepath.IsAbs(ch.File) {
			t.Fatalf("docs/migration.md, %q: cohort file %q is absolute; examples use a path relative to the configuration", b.heading, ch.File)
		}
		// The section's own example list when it shows one.
		list := "# a pilot\nalice\n"
		if len(b.texts) > 0 {
			list = b.texts[0]
		}
		file := filepath.Join(dir, ch.File)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(file, []byte(b.yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatalf("docs/migration.md, %q: the example does not load:\n%v", b.heading, err)
	}
	return c
}

// playbook is what the steps of docs/migration.md establish: the provider
// the team leaves (step 0's target) and the one it moves to.
type playbook struct{ old, new string }

// TestMigrationDocs loads every configuration of docs/migration.md, so the
// playbook cannot drift from the loader, and checks that each step's file
// does what its step says.
func TestMigrationDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "migration.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := docBlocks(string(doc))
	var p playbook
	checks := map[string]func(t *testing.T, r *Route){
		"0": func(t *testing.T, r *Route) {
			if r.Migrate.Enabled() {
				t.Errorf("the starting point already migrates: %+v", r.Migrate)
			}
		},
		"1": func(t *testing.T, r *Route) {
			m := &r.Migrate
			p.onOld(t, r)
			if !slices.Contains(m.Shadow, p.new) {
				t.Errorf("shadow = %v, want it to list %q", m.Shadow, p.new)
			}
			if m.Mirror != "" || len(m.Split) > 0 || m.Cohort != nil {
				t.Errorf("the shadow step sends to another provider: %+v", m)
			}
			// The defaults docs/config.md documents.
			if m.Key != "recipient" || m.Queue != 1024 || m.Workers != 2 {
				t.Errorf("defaults: key %q, queue %d, workers %d; docs/config.md says recipient, 1024, 2", m.Key, m.Queue, m.Workers)
			}
		},
		"2": func(t *testing.T, r *Route) {
			m := &r.Migrate
			p.onOld(t, r)
			if m.Mirror != p.new {
				t.Errorf("mirror = %q, want %q", m.Mirror, p.new)
			}
			if len(m.Split) > 0 || m.Cohort != nil {
				t.Errorf("the mirror step moves recipients: %+v", m)
			}
			if m.Queue < 1 || m.Workers < 1 || m.Workers > 64 {
				t.Errorf("queue %d, workers %d", m.Queue, m.Workers)
			}
		},
		"3": func(t *testing.T, r *Route) {
			m := &r.Migrate
			p.onOld(t, r)
			if m.Cohort == nil {
				t.Fatal("the cohort step has no cohort")
			}
			if m.Cohort.Target != p.new || m.Cohort.File == "" || m.Cohort.CheckEvery <= 0 {
				t.Errorf("cohort = %+v, want target %q, a file and a check interval", *m.Cohort, p.new)
			}
			if len(m.Split) > 0 || m.Mirror != "" {
				t.Errorf("the cohort step also splits or mirrors: %+v", m)
			}
		},
		"4": func(t *testing.T, r *Route) {
			m := &r.Migrate
			p.onOld(t, r)
			if len(m.Split) != 2 || m.Split[p.old] <= 0 || m.Split[p.new] <= 0 {
				t.Errorf("split = %v, want both %q and %q with a positive weight", m.Split, p.old, p.new)
			}
			if m.Cohort != nil {
				t.Errorf("the split step keeps a cohort: %+v", *m.Cohort)
			}
			if !slices.Contains([]string{"sender", "recipient", "conversation"}, m.Key) {
				t.Errorf("key = %q", m.Key)
			}
		},
		"5": func(t *testing.T, r *Route) {
			if r.Target != p.new {
				t.Errorf("after the cut-over the target is %q, want %q", r.Target, p.new)
			}
			if r.Migrate.Enabled() {
				t.Errorf("the cut-over keeps migration controls: %+v", r.Migrate)
			}
		},
		"6": func(t *testing.T, r *Route) {
			m := &r.Migrate
			p.onOld(t, r)
			if m.Cohort != nil || m.Split[p.new] != 0 || m.Mirror == p.new {
				t.Errorf("the rollback still sends to %q: %+v", p.new, m)
			}
		},
	}
	seen := map[string]bool{}
	for _, b := range blocks {
		step := ""
		if m := stepNum.FindStringSubmatch(b.heading); m != nil {
			step = m[1]
		}
		seen[step] = true
		t.Run(b.heading, func(t *testing.T) {
			c := loadDocBlock(t, b)
			if len(c.Listeners) != 1 || len(c.Providers) != 2 || len(c.Routes) != 1 {
				t.Fatalf("%d listeners, %d providers, %d routes; each step's file has one listener, the two providers and one route",
					len(c.Listeners), len(c.Providers), len(c.Routes))
			}
			r := &c.Routes[0]
			if step == "0" {
				p.old = r.Target
				for name := range c.Providers {
					if name != p.old {
						p.new = name
					}
				}
			}
			if p.old == "" || p.new == "" {
				t.Fatal("step 0 did not load, so the old and new providers are unknown")
			}
			check := checks[step]
			if check == nil {
				t.Fatalf("a configuration outside the numbered steps; add a check for it")
			}
			check(t, r)
		})
	}
	for i := range 7 {
		if step := string(rune('0' + i)); !seen[step] {
			t.Errorf("docs/migration.md: step %s has no configuration", step)
		}
	}
}

// onOld fails unless r still targets the old provider.
func (p *playbook) onOld(t *testing.T, r *Route) {
	t.Helper()
	if r.Target != p.old {
		t.Errorf("target = %q, want the old provider %q until the cut-over", r.Target, p.old)
	}
}

// TestConfigDocsMigrate decodes the `migrate` example of docs/config.md
// with the loader's strictness, so every key it shows exists.
func TestConfigDocsMigrate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## `migrate`")
	if !ok {
		t.Fatal("docs/config.md has no `migrate` section")
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	blocks := docBlocks(section)
	if len(blocks) != 1 {
		t.Fatalf("the `migrate` section has %d yaml blocks, want 1", len(blocks))
	}
	var c struct {
		Routes []Route `yaml:"routes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(blocks[0].yaml)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docs/config.md, `migrate`: %v", err)
	}
	if len(c.Routes) != 1 {
		t.Fatalf("%d routes", len(c.Routes))
	}
	m := c.Routes[0].Migrate
	if !m.Enabled() || len(m.Split) != 2 || m.Split[c.Routes[0].Target] == 0 {
		t.Errorf("the example's migrate block decoded as %+v", m)
	}
}
