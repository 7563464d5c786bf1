package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// twoProviders is minimal with a second provider, em, to migrate to.
var twoProviders = strings.Replace(minimal, "routes:", `  em:
    dialect: easemob
    base_url: http://127.0.0.1:9
    credentials: {org: o, app: a, client_id: id, client_secret: {env: IMRELAY_TEST_EASEMOB_SECRET}}
  yd:
    dialect: youdu
    base_url: http://127.0.0.1:9
    credentials: {buin: 1, app_id: x, aes_key: {env: IMRELAY_TEST_YOUDU_KEY}}
routes:`, 1)

func TestMigrateLoads(t *testing.T) {
	setTestEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pilot.txt"), []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := twoProviders + "    migrate:\n      cohort: {target: em, file: pilot.txt}\n      mirror: yd\n      shadow: [yd, em]\n"
	c, err := Parse(filepath.Join(dir, "relay.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Routes[0].Migrate
	if !m.Enabled() || m.Key != "recipient" || m.Queue != DefaultMigrateQueue || m.Workers != DefaultMigrateWorkers {
		t.Errorf("defaults not filled: %+v", m)
	}
	if m.Cohort.File != filepath.Join(dir, "pilot.txt") || m.Cohort.CheckEvery != DefaultCohortCheckEvery {
		t.Errorf("cohort = %+v, want the file resolved beside the configuration", m.Cohort)
	}
	if got := c.Routes[0].Legs(); strings.Join(got, ",") != "ne,em" {
		t.Errorf("legs = %v, want the target then the cohort's", got)
	}

	y = twoProviders + "    migrate: {key: conversation, split: {ne: 70, em: 30}}\n"
	c, err = Parse("relay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].Legs(); strings.Join(got, ",") != "em,ne" {
		t.Errorf("split legs = %v, want them sorted by name", got)
	}

	c, err = Parse("relay.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Routes[0].Migrate.Enabled() || len(c.Routes[0].Legs()) != 1 {
		t.Errorf("a route without migrate has controls: %+v", c.Routes[0].Migrate)
	}
}

// TestMigrateErrors checks that each mistake names its key and a fix.
func TestMigrateErrors(t *testing.T) {
	setTestEnv(t)
	cases := []struct {
		name, migrate string
		key, want     string
	}{
		{"bad key", "{key: group, shadow: [em]}", "routes[0].migrate.key", `"group" is not a split key`},
		{"split of one", "{split: {ne: 100}}", "routes[0].migrate.split", "names one provider"},
		{"split without target", "{split: {em: 50, yd: 50}}", "routes[0].migrate.split", `does not name the route's target "ne"`},
		{"split unknown provider", "{split: {ne: 50, nope: 50}}", "routes[0].migrate.split.nope", `no provider named "nope"`},
		{"split negative", "{split: {ne: 50, em: -1}}", "routes[0].migrate.split.em", "negative"},
		{"split zero sum", "{split: {ne: 0, em: 0}}", "routes[0].migrate.split", "add up to 0"},
		{"split and cohort", "{split: {ne: 1, em: 1}, cohort: {target: yd, file: relay.yaml}}", "routes[0].migrate.cohort", "not both"},
		{"cohort to target", "{cohort: {target: ne, file: relay.yaml}}", "routes[0].migrate.cohort.target", "is the route's target"},
		{"cohort no file", "{cohort: {target: em}}", "routes[0].migrate.cohort.file", "missing"},
		{"cohort missing file", "{cohort: {target: em, file: no-such-list.txt}}", "routes[0].migrate.cohort.file", "no-such-list.txt"},
		{"cohort too often", "{cohort: {target: em, file: relay.yaml, check_every: 1ms}}", "routes[0].migrate.cohort.check_every", "too often"},
		{"mirror to target", "{mirror: ne}", "routes[0].migrate.mirror", "already receives"},
		{"mirror to a split leg", "{split: {ne: 1, em: 1}, mirror: em}", "routes[0].migrate.mirror", "already receives"},
		{"mirror unknown", "{mirror: nope}", "routes[0].migrate.mirror", `no provider named "nope"`},
		{"shadow twice", "{shadow: [em, em]}", "routes[0].migrate.shadow[1]", "listed twice"},
		{"shadow unknown", "{shadow: [nope]}", "routes[0].migrate.shadow[0]", `no provider named "nope"`},
		{"bad queue", "{shadow: [em], queue: -1}", "routes[0].migrate.queue", "not a queue size"},
		{"bad workers", "{shadow: [em], workers: 65}", "routes[0].migrate.workers", "outside 1..64"},
		{"unknown key", "{shadows: [em]}", "", "shadows"},
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "relay.yaml")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := twoProviders + "    migrate: " + tc.migrate + "\n"
			if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			want := []string{tc.want}
			if tc.key != "" {
				want = append(want, tc.key+": ", "(fix: ")
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestCohortCheckEveryParses(t *testing.T) {
	setTestEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	y := twoProviders + "    migrate: {cohort: {target: em, file: c.txt, check_every: 500ms}}\n"
	c, err := Parse(filepath.Join(dir, "relay.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].Migrate.Cohort.CheckEvery; got != 500*time.Millisecond {
		t.Errorf("check_every = %s", got)
	}
}
