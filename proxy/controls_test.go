package proxy

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/media"
)

// cohortConfig is echoConfig with a second echo provider, up2, and a
// cohort sending the recipients listed in file to it.
func cohortConfig(t *testing.T, url, url2 string, listed ...string) *config.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cohort.txt")
	var b []byte
	for _, id := range listed {
		b = append(b, id+"\n"...)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := echoConfig(url)
	p2 := *cfg.Providers["up"]
	p2.BaseURL = url2
	cfg.Providers["up2"] = &p2
	cfg.Routes[0].Migrate = config.Migrate{Cohort: &config.Cohort{Target: "up2", File: file}}
	return cfg
}

// TestCohortOneAnswer: a message to recipients on both legs is sent to
// each provider with its own recipients, and the client gets one answer
// with every recipient and its own outcome (leg by leg within a message).
func TestCohortOneAnswer(t *testing.T) {
	up, up2 := startEcho(t), startEcho(t)
	up2.fail["dave"] = 500
	r := startRelay(t, cohortConfig(t, up.url, up2.url, "bob", "dave"))
	_, body := r.post(t, echoAuth, nil, `{"to":["alice","bob","carol","dave"],"text":"hi"}`)
	res := gjson.Get(body, "results").Array()
	if len(res) != 4 {
		t.Fatalf("answer %s, want 4 results", body)
	}
	for i, want := range []struct {
		to string
		ok bool
	}{{"alice", true}, {"carol", true}, {"bob", true}, {"dave", false}} {
		if res[i].Get("to").Str != want.to || res[i].Get("ok").Bool() != want.ok {
			t.Errorf("result %d = %s, want %s ok=%v", i, res[i].Raw, want.to, want.ok)
		}
	}
	if gjson.Get(body, "ok").Bool() {
		t.Errorf("a partly failed send answered ok: %s", body)
	}
	slices.Sort(up.got) // a leg sends its requests concurrently
	if got := up.got; !slices.Equal(got, []string{"alice:hi", "carol:hi"}) {
		t.Errorf("the old provider got %v", got)
	}
	if got := up2.got; !slices.Equal(got, []string{"bob:hi"}) {
		t.Errorf("the cohort's provider got %v", got)
	}
	rep := r.s.Migration()
	counts := map[string]uint64{}
	for _, row := range rep.Split {
		counts[row.Target] = row.Recipients
	}
	if counts["up"] != 2 || counts["up2"] != 2 {
		t.Errorf("split counts %v, want 2 and 2", counts)
	}
}

// TestCohortLegDown: a leg whose provider cannot be reached fails its own
// recipients only; the other leg's are sent and reported so.
func TestCohortLegDown(t *testing.T) {
	up := startEcho(t)
	r := startRelay(t, cohortConfig(t, up.url, "http://127.0.0.1:1", "bob"))
	_, body := r.post(t, echoAuth, nil, `{"to":["alice","bob"],"text":"hi"}`)
	if !gjson.Get(body, "results.0.ok").Bool() || gjson.Get(body, "results.1.ok").Bool() || gjson.Get(body, "results.1.to").Str != "bob" {
		t.Fatalf("answer %s: want alice sent and bob not", body)
	}
	if !slices.Equal(up.got, []string{"alice:hi"}) {
		t.Errorf("the old provider got %v", up.got)
	}
}

// TestMirrorAfterAnswer: the mirror gets every request after the client
// is answered; Close waits for the queue, and the divergence counts say
// which side delivered.
func TestMirrorAfterAnswer(t *testing.T) {
	up, up2 := startEcho(t), startEcho(t)
	up2.fail["bob"] = 500
	cfg := cohortConfig(t, up.url, up2.url)
	cfg.Routes[0].Migrate = config.Migrate{Mirror: "up2"}
	r := startRelay(t, cfg)
	for range 3 {
		if _, body := r.post(t, echoAuth, nil, `{"to":["alice","bob"],"text":"hi"}`); !gjson.Get(body, "ok").Bool() {
			t.Fatalf("answer %s: the primary delivered both", body)
		}
	}
	if err := r.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := r.s.Migration()
	var both, primaryOnly uint64
	for _, row := range rep.Mirror {
		both += row.Both
		primaryOnly += row.PrimaryOnly
	}
	if both != 3 || primaryOnly != 3 {
		t.Errorf("mirror rows %+v: want 3 both (alice) and 3 primary only (bob)", rep.Mirror)
	}
	if len(up2.got) != 3 {
		t.Errorf("the mirror got %v, want alice three times", up2.got)
	}
	if len(rep.Jobs) != 1 || rep.Jobs[0].Done != 3 || rep.Jobs[0].Dropped != 0 {
		t.Errorf("jobs %+v, want 3 done", rep.Jobs)
	}
}

// withCohort puts the host path's route on a cohort whose provider is the
// same quiet upstream, listing nobody: every request is partitioned and
// merged, and uses one leg.
func withCohort(tb testing.TB, cfg *config.Config) {
	file := filepath.Join(tb.TempDir(), "cohort.txt")
	if err := os.WriteFile(file, []byte("bob\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	p2 := *cfg.Providers["up"]
	cfg.Providers["up2"] = &p2
	cfg.Routes[0].Migrate = config.Migrate{Cohort: &config.Cohort{Target: "up2", File: file}}
}

// TestReloadDropsQueuedJobs: mirror jobs still queued when a reload
// replaces the configuration are dropped and counted, not run under the
// old one; the job already running finishes.
func TestReloadDropsQueuedJobs(t *testing.T) {
	up, up2 := startEcho(t), startEcho(t)
	up2.hold, up2.seen = make(chan struct{}), make(chan struct{}, 8)
	cfg := cohortConfig(t, up.url, up2.url)
	cfg.Routes[0].Migrate = config.Migrate{Mirror: "up2", Workers: 1}
	r := startRelay(t, cfg)
	for range 3 {
		if _, body := r.post(t, echoAuth, nil, `{"to":["alice"],"text":"hi"}`); !gjson.Get(body, "ok").Bool() {
			t.Fatalf("answer %s", body)
		}
	}
	<-up2.seen // the first job is at the mirror; the other two wait in the queue
	old := r.s.table.Load()
	next := cohortConfig(t, up.url, up2.url)
	next.Routes[0].Migrate = config.Migrate{}
	next.Plugins.CacheDir = cfg.Plugins.CacheDir
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.s.Reload(context.Background(), next) }()
	for !old.retired.Load() { // the reload swaps the table before it waits for the old one
		select {
		case err := <-done:
			t.Fatalf("the reload ended before it swapped the table: %v", err)
		default:
			runtime.Gosched()
		}
	}
	close(up2.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep := r.s.Migration()
	if len(rep.Jobs) != 1 || rep.Jobs[0].Done != 1 || rep.Jobs[0].Dropped != 2 {
		t.Errorf("jobs %+v, want 1 done and 2 dropped", rep.Jobs)
	}
	if n := up2.calls.Load(); n != 1 {
		t.Errorf("the mirror got %d calls after the reload removed it, want only the one in flight", n)
	}
}

// TestReloadForgetsMediaState: the media bridge's per-configuration state
// goes with the configuration, instead of growing with every reload.
func TestReloadForgetsMediaState(t *testing.T) {
	up := startEcho(t)
	cfg := echoConfig(up.url)
	r := startRelay(t, cfg)
	old := r.s.table.Load()
	mediaBridge(old.cfg)
	leg := old.router.routes[0].legs[0]
	mediaRoutes.Store(leg, (*media.Route)(nil))

	next := echoConfig(up.url)
	next.Plugins.CacheDir = cfg.Plugins.CacheDir
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Reload(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	if _, ok := mediaBridges.Load(old.cfg); ok {
		t.Error("the old configuration's media bridge is still kept")
	}
	if _, ok := mediaRoutes.Load(leg); ok {
		t.Error("the old route's media state is still kept")
	}
}
