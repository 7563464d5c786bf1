package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/migrate"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// The migration controls end to end (docs/migration.md): a split, a
// cohort, a mirror and shadow candidates on routes of the test relay, with
// what arrives at each emulator checked against what the client was told
// and what the relay's migration report counts.

// withMigrate returns a tweak that gives the named routes their
// migration controls.
func withMigrate(t *testing.T, controls map[string]config.Migrate) func(*config.Config) {
	t.Helper()
	return func(c *config.Config) {
		for name, m := range controls {
			i := slices.IndexFunc(c.Routes, func(r config.Route) bool { return r.Name == name })
			if i < 0 {
				t.Fatalf("no route %q in the test configuration", name)
			}
			c.Routes[i].Migrate = m
		}
	}
}

// waitUntil polls ok, with a short growing pause, until it holds or limit
// has passed: the background jobs are observed through their counters.
func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", limit, what)
		}
		time.Sleep(pause) // polling an observable counter, bounded by the deadline
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// jobRow returns the route's background job row (zero when there is none).
func jobRow(rep migrate.Report, route, job string) migrate.JobRow {
	for _, r := range rep.Jobs {
		if r.Route == route && r.Job == job {
			return r
		}
	}
	return migrate.JobRow{Route: route, Job: job}
}

// splitCount returns how many recipients the report says the route sent
// to target.
func splitCount(rep migrate.Report, route, target string) uint64 {
	for _, r := range rep.Split {
		if r.Route == route && r.Target == target {
			return r.Recipients
		}
	}
	return 0
}

// mirrorTotals adds up the route's mirror rows.
func mirrorTotals(rep migrate.Report, route string) (sum migrate.MirrorRow, errs map[string]uint64) {
	errs = map[string]uint64{}
	for _, r := range rep.Mirror {
		if r.Route != route {
			continue
		}
		sum.Both += r.Both
		sum.PrimaryOnly += r.PrimaryOnly
		sum.MirrorOnly += r.MirrorOnly
		sum.Neither += r.Neither
		for _, e := range r.Errors {
			errs[e.Side+"/"+e.Code] += e.Count
		}
	}
	return sum, errs
}

// easemobUsers is an Easemob client's text to several users.
func easemobUsers(to []string, text string) (string, string) {
	b, _ := json.Marshal(map[string]any{"from": "alice", "to": to, "type": "txt", "body": map[string]string{"msg": text}})
	return "/" + emOrg + "/" + emApp + "/messages/users", string(b)
}

// opappBatch is an opapp client's batch of texts, one message per user.
func opappBatch(to []string, text string) (string, string) {
	msgs := make([]string, len(to))
	for i, u := range to {
		msgs[i] = fmt.Sprintf(`{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":%q,"msgType":"txt","msg":%q,"targetType":"users"},"fileUrl":""}`, u, text+" "+u)
	}
	return "/opapp/send2EasemobMessage", `{"reqUrl":"/hxSend/send2EasemobMessage","messages":[` + strings.Join(msgs, ",") + `]}`
}

// received counts, per recipient, the messages target's inbox holds.
func received(e *env, target string) map[string]int {
	n := map[string]int{}
	for _, m := range e.vendors[target].core.Inbox.List(emu.Filter{}) {
		for _, to := range m.To {
			n[to]++
		}
	}
	return n
}

// clearInboxes empties every emulator's inbox.
func clearInboxes(e *env) {
	for _, v := range e.vendors {
		v.core.Inbox.Clear()
	}
}

// TestMigrateSplit: an 80/20 split by recipient sends each recipient to
// one provider, about 80/20, the same one every time, with the report
// counting exactly what arrived; moving to 50/50 only moves recipients
// from the old provider to the new one.
func TestMigrateSplit(t *testing.T) {
	// getsender carries one recipient per request; an Easemob client's
	// message carries up to 600, and is divided between the legs.
	const route, in, target = "easemob->easemob", config.Easemob, config.Easemob
	const users, perRequest = 10000, 100
	e := newEnv(t, withMigrate(t, map[string]config.Migrate{
		route: {Key: "recipient", Split: map[string]int{config.Easemob: 80, config.Netease: 20}},
	}))
	rcpts := make([]string, users)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("sp%05d", i)
	}

	// round sends one text to every recipient and returns where each
	// arrived, checking it arrived exactly once, at exactly one provider,
	// and that the split counts match the arrivals.
	round := func(label string) map[string]string {
		t.Helper()
		clearInboxes(e)
		before := e.relay.Migration()
		for i := 0; i < users; i += perRequest {
			batch := rcpts[i : i+perRequest]
			path, body := easemobUsers(batch, label)
			a := e.send(in, target, good, path, body)
			for _, r := range batch {
				if !accepted(in, a, r) {
					t.Fatalf("%s: %s not reported sent: %d %s", label, r, a.status, clip(a.body))
				}
			}
		}
		after := e.relay.Migration()
		got := map[string]string{}
		for _, v := range []string{config.Easemob, config.Netease} {
			n := received(e, v)
			total := 0
			for r, c := range n {
				total += c
				if c != 1 {
					t.Errorf("%s: %s received %d messages at %s, want 1", label, r, c, v)
				}
				if prev, ok := got[r]; ok {
					t.Errorf("%s: %s arrived at both %s and %s", label, r, prev, v)
				}
				got[r] = v
			}
			if d := splitCount(after, route, v) - splitCount(before, route, v); d != uint64(total) {
				t.Errorf("%s: the split counts %d recipients for %s, %d arrived", label, d, v, total)
			}
		}
		if len(got) != users {
			t.Fatalf("%s: %d of %d recipients arrived", label, len(got), users)
		}
		for _, v := range []string{config.Getsender, config.Opapp, config.Youdu} {
			if n := e.vendors[v].core.Inbox.Len(); n != 0 {
				t.Errorf("%s: %s, no leg of the split, received %d messages", label, v, n)
			}
		}
		return got
	}
	share := func(got map[string]string, v string) float64 {
		n := 0
		for _, w := range got {
			if w == v {
				n++
			}
		}
		return float64(n) * 100 / float64(len(got))
	}
	near := func(label string, got, want float64) {
		t.Helper()
		if got < want-2 || got > want+2 {
			t.Errorf("%s: netease share %.2f%%, want %.0f%% ±2", label, got, want)
		}
	}

	first := round("first")
	near("80/20", share(first, config.Netease), 20)
	again := round("again")
	moved := 0
	for _, r := range rcpts {
		if again[r] != first[r] {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d recipients changed provider between two sends with the same weights", moved)
	}

	cfg := *e.relay.Config()
	cfg.Routes = slices.Clone(cfg.Routes)
	i := slices.IndexFunc(cfg.Routes, func(r config.Route) bool { return r.Name == route })
	cfg.Routes[i].Migrate.Split = map[string]int{config.Easemob: 50, config.Netease: 50}
	must(t, cfg.Validate())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(t, e.relay.Reload(ctx, &cfg))

	half := round("after the reload")
	near("50/50", share(half, config.Netease), 50)
	back, toNew := 0, 0
	for _, r := range rcpts {
		switch {
		case first[r] == config.Netease && half[r] == config.Easemob:
			back++
		case first[r] == config.Easemob && half[r] == config.Netease:
			toNew++
		}
	}
	if back != 0 {
		t.Errorf("raising netease's weight moved %d recipients from netease back to easemob", back)
	}
	if toNew == 0 {
		t.Error("raising netease's weight moved nobody to netease")
	}
}

// TestMigrateCohort: the recipients a cohort file lists go to the cohort's
// provider and the others to the route's target, within one message; a
// failing cohort provider fails exactly its recipients; an edited file
// takes effect without a reload.
func TestMigrateCohort(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pilot.txt")
	must(t, os.WriteFile(file, []byte("# the pilot users\npilot1\n\nuser:pilot2\n"), 0o600))
	cohort := config.Migrate{Cohort: &config.Cohort{Target: config.Netease, File: file, CheckEvery: 100 * time.Millisecond}}
	const emRoute, opRoute = "easemob->easemob", "opapp->easemob"
	e := newEnv(t, withMigrate(t, map[string]config.Migrate{emRoute: cohort, opRoute: cohort}))
	listed, unlisted := []string{"pilot1", "pilot2"}, []string{"stay1", "stay2"}
	everyone := []string{"pilot1", "stay1", "pilot2", "stay2"}

	// One message to listed and unlisted users: divided, one answer.
	before := e.relay.Migration()
	const sends = 3
	for i := range sends {
		text := fmt.Sprintf("mixed %d", i)
		path, body := easemobUsers(everyone, text)
		a := e.send(config.Easemob, config.Easemob, good, path, body)
		for _, r := range everyone {
			if !accepted(config.Easemob, a, r) {
				t.Fatalf("message %d: %s not reported sent: %d %s", i, r, a.status, clip(a.body))
			}
		}
		// The id the client gets for a listed user is the cohort
		// provider's.
		for _, r := range listed {
			got := e.inbox(config.Netease, r)
			if len(got) != i+1 || textOf(config.Netease, got[i]) != text {
				t.Fatalf("message %d: netease inbox for %s: %+v", i, r, got)
			}
			if id := gjson.Get(a.body, "data."+r).String(); id != got[i].ID {
				t.Errorf("message %d: the client got id %q for %s, netease gave %q", i, id, r, got[i].ID)
			}
		}
	}
	for _, r := range listed {
		if n := len(e.inbox(config.Easemob, r)); n != 0 {
			t.Errorf("listed %s received %d messages at easemob", r, n)
		}
	}
	for _, r := range unlisted {
		if n, m := len(e.inbox(config.Easemob, r)), len(e.inbox(config.Netease, r)); n != sends || m != 0 {
			t.Errorf("unlisted %s received %d messages at easemob and %d at netease, want %d and 0", r, n, m, sends)
		}
	}
	after := e.relay.Migration()
	for _, v := range []string{config.Easemob, config.Netease} {
		if d := splitCount(after, emRoute, v) - splitCount(before, emRoute, v); d != 2*sends {
			t.Errorf("the split counts %d recipients for %s, want %d", d, v, 2*sends)
		}
	}

	// The cohort's provider fails every call: an opapp client is told
	// exactly the listed users' messages failed, and the others arrive.
	t.Run("failing cohort leg", func(t *testing.T) {
		clearInboxes(e)
		must(t, e.vendors[config.Netease].core.Faults.Set(emu.Faults{ErrorRate: 1}))
		defer func() { must(t, e.vendors[config.Netease].core.Faults.Set(emu.Faults{})) }()
		path, body := opappBatch(everyone, "batch")
		a := e.send(config.Opapp, config.Easemob, good, path, body)
		if gsCode(a) != 500 {
			t.Fatalf("answer %s, want opapp's partial failure code 500", clip(a.body))
		}
		var failed []string
		for _, m := range gjson.Get(a.body, "data").Array() {
			failed = append(failed, m.Get("msgBody.toUser").String())
		}
		slices.Sort(failed)
		if !slices.Equal(failed, listed) {
			t.Errorf("failed list names %v, want exactly the cohort %v: %s", failed, listed, clip(a.body))
		}
		for _, r := range unlisted {
			got := e.inbox(config.Easemob, r)
			if len(got) != 1 || textOf(config.Easemob, got[0]) != "batch "+r {
				t.Errorf("easemob inbox for %s: %+v", r, got)
			}
		}
		if n := e.vendors[config.Netease].core.Inbox.Len(); n != 0 {
			t.Errorf("the failing netease accepted %d messages", n)
		}
		if st := e.vendors[config.Netease].core.Faults.Stats(); st.Failed == 0 {
			t.Error("netease failed no call: the cohort's messages never reached it")
		}
	})

	// The file changes: stay1 joins, pilot2 leaves, without a reload.
	t.Run("file edited", func(t *testing.T) {
		clearInboxes(e)
		tmp := filepath.Join(dir, "pilot.txt.new")
		must(t, os.WriteFile(tmp, []byte("pilot1\nstay1\n# pilot2 went back\n"), 0o600))
		must(t, os.Rename(tmp, file))
		probes := 0
		waitUntil(t, 5*time.Second, "stay1 to move to netease", func() bool {
			probes++
			path, body := easemobUsers([]string{"stay1"}, fmt.Sprintf("probe %d", probes))
			if a := e.send(config.Easemob, config.Easemob, good, path, body); !accepted(config.Easemob, a, "stay1") {
				t.Fatalf("probe %d: %d %s", probes, a.status, clip(a.body))
			}
			return len(e.inbox(config.Netease, "stay1")) > 0
		})
		if n := len(e.inbox(config.Netease, "stay1")); n != 1 {
			t.Errorf("stay1 received %d probes at netease, want only the last", n)
		}
		if n := len(e.inbox(config.Easemob, "stay1")); n != probes-1 {
			t.Errorf("stay1 received %d probes at easemob, want the %d before the change", n, probes-1)
		}
		clearInboxes(e)
		path, body := easemobUsers(everyone, "after the edit")
		a := e.send(config.Easemob, config.Easemob, good, path, body)
		for r, want := range map[string]string{"pilot1": config.Netease, "stay1": config.Netease, "pilot2": config.Easemob, "stay2": config.Easemob} {
			if !accepted(config.Easemob, a, r) {
				t.Errorf("%s not reported sent: %s", r, clip(a.body))
			}
			other := config.Easemob
			if want == config.Easemob {
				other = config.Netease
			}
			if n, m := len(e.inbox(want, r)), len(e.inbox(other, r)); n != 1 || m != 0 {
				t.Errorf("%s received %d at %s and %d at %s, want 1 and 0", r, n, want, m, other)
			}
		}
	})
}

// TestMigrateMirror: a mirror that fails, or is slow, changes nothing for
// the client, and the report counts what each side delivered; a full
// queue drops mirror jobs and counts them, and the clients still succeed.
func TestMigrateMirror(t *testing.T) {
	const route, burst = "getsender->easemob", "mirror-burst"
	const delay = 2 * time.Second
	e := newEnv(t, func(c *config.Config) {
		withMigrate(t, map[string]config.Migrate{route: {Mirror: config.Netease, Workers: 8}})(c)
		c.Routes = append(c.Routes, config.Route{
			Name: burst, Host: "burst.relay", Dialect: config.Getsender, Target: config.Easemob, Policy: config.PolicyDegrade,
			Auth:    config.Auth{Clients: []config.Client{{ID: clientGetsender, Token: config.SecretValue(tokenGetsender)}}},
			Migrate: config.Migrate{Mirror: config.Netease, Queue: 1, Workers: 1},
		})
	})
	mirror := e.vendors[config.Netease].core
	in := config.Getsender

	// sendAll sends one text to each recipient on the route for host and
	// checks each is answered as the primary answers: sent, and there.
	sendAll := func(host string, rcpts []string, slowest time.Duration) {
		t.Helper()
		for _, r := range rcpts {
			path, body := textRequest(in, r, "mirrored to "+r)
			start := time.Now()
			a := e.send(in, host, good, path, body)
			took := time.Since(start)
			if !accepted(in, a, r) {
				t.Fatalf("%s: answer %s, want the primary's success", r, clip(a.body))
			}
			if slowest > 0 && took >= slowest {
				t.Errorf("%s: the client waited %s, as long as the mirror's delay", r, took)
			}
			checkArrival(t, e, in, config.Easemob, r, "mirrored to "+r)
		}
	}

	t.Run("failing and slow mirror", func(t *testing.T) {
		must(t, mirror.Faults.Set(emu.Faults{ErrorRate: 1, Latency: emu.Duration(delay)}))
		rcpts := []string{"mf1", "mf2", "mf3", "mf4", "mf5"}
		sendAll(config.Easemob, rcpts, delay/2)
		// Every answer is in hand; no mirror call has been answered yet.
		if j := jobRow(e.relay.Migration(), route, "mirror"); j.Done != 0 {
			t.Errorf("%d mirror jobs were done before the delayed mirror could answer", j.Done)
		}
		waitUntil(t, 20*time.Second, "the mirror jobs", func() bool {
			return jobRow(e.relay.Migration(), route, "mirror").Done == uint64(len(rcpts))
		})
		rep := e.relay.Migration()
		sum, errs := mirrorTotals(rep, route)
		if sum.PrimaryOnly != uint64(len(rcpts)) || sum.Both+sum.MirrorOnly+sum.Neither != 0 {
			t.Errorf("mirror rows %+v, want primary_only %d and nothing else", sum, len(rcpts))
		}
		// NetEase's internal error is no success signal: upstream
		// (docs/mapping.md, "Provider answer → canonical result").
		if want := map[string]uint64{"mirror/upstream": uint64(len(rcpts))}; !maps.Equal(errs, want) {
			t.Errorf("mirror errors %v, want %v", errs, want)
		}
		if st := mirror.Faults.Stats(); st.Failed != int64(len(rcpts)) {
			t.Errorf("the mirror failed %d calls, want one per request (%d)", st.Failed, len(rcpts))
		}
		for _, r := range rcpts {
			if n := len(e.inbox(config.Netease, r)); n != 0 {
				t.Errorf("the failing mirror accepted %d messages for %s", n, r)
			}
		}
		if j := jobRow(rep, route, "mirror"); j.Dropped != 0 {
			t.Errorf("%d jobs dropped with room in the queue", j.Dropped)
		}
	})

	t.Run("healthy mirror", func(t *testing.T) {
		must(t, mirror.Faults.Set(emu.Faults{}))
		before := e.relay.Migration()
		done0 := jobRow(before, route, "mirror").Done
		sum0, _ := mirrorTotals(before, route)
		rcpts := []string{"mh1", "mh2", "mh3", "mh4"}
		sendAll(config.Easemob, rcpts, 0)
		waitUntil(t, 20*time.Second, "the mirror jobs", func() bool {
			return jobRow(e.relay.Migration(), route, "mirror").Done == done0+uint64(len(rcpts))
		})
		sum, _ := mirrorTotals(e.relay.Migration(), route)
		if d := sum.Both - sum0.Both; d != uint64(len(rcpts)) {
			t.Errorf("both grew by %d, want %d", d, len(rcpts))
		}
		if sum.PrimaryOnly != sum0.PrimaryOnly || sum.MirrorOnly+sum.Neither != 0 {
			t.Errorf("mirror rows %+v after %+v: only both should grow", sum, sum0)
		}
		for _, r := range rcpts {
			got := e.inbox(config.Netease, r)
			if len(got) != 1 || textOf(config.Netease, got[0]) != "mirrored to "+r {
				t.Errorf("netease inbox for %s: %+v", r, got)
			}
		}
	})

	t.Run("full queue", func(t *testing.T) {
		must(t, mirror.Faults.Set(emu.Faults{Latency: emu.Duration(delay)}))
		defer func() { must(t, mirror.Faults.Set(emu.Faults{})) }()
		const requests = 8
		rcpts := make([]string, requests)
		for i := range rcpts {
			rcpts[i] = fmt.Sprintf("mq%d", i)
		}
		// One worker held by the slow mirror and one job waiting: the
		// requests sent meanwhile find the queue full.
		sendAll("burst", rcpts, delay/2)
		dropped := jobRow(e.relay.Migration(), burst, "mirror").Dropped
		if dropped == 0 {
			t.Errorf("no job dropped with a queue of one and %d requests during the mirror's delay", requests)
		}
		waitUntil(t, 20*time.Second, "the queued mirror jobs", func() bool {
			j := jobRow(e.relay.Migration(), burst, "mirror")
			return j.Done+j.Dropped == requests
		})
		j := jobRow(e.relay.Migration(), burst, "mirror")
		if j.Dropped != dropped {
			t.Errorf("dropped went from %d to %d after the last request", dropped, j.Dropped)
		}
		if j.Done == 0 {
			t.Error("no mirror job done")
		}
		mirrored := 0
		for _, r := range rcpts {
			mirrored += len(e.inbox(config.Netease, r))
		}
		if uint64(mirrored) != j.Done {
			t.Errorf("the mirror received %d messages, %d jobs were done", mirrored, j.Done)
		}
		if sum, _ := mirrorTotals(e.relay.Migration(), burst); sum.Both != j.Done {
			t.Errorf("both = %d, want one per job done (%d)", sum.Both, j.Done)
		}
	})
}

// TestMigrateShadow: every message is translated for each candidate and
// counted exact, degraded or rejected as docs/mapping.md predicts, and
// nothing reaches the candidates.
func TestMigrateShadow(t *testing.T) {
	const route = "getsender->easemob"
	e := newEnv(t, withMigrate(t, map[string]config.Migrate{route: {Shadow: []string{config.Youdu, config.Netease}}}))
	gs := func(typ int, to, info string) string {
		return fmt.Sprintf(`{"messageType":%d,"from":"alice","userId":%q,"isDisturb":false,"messageInfo":%s}`, typ, to, info)
	}
	sends := []struct {
		kind string
		n    int
		body func(to string) string
	}{
		{"text", 5, func(to string) string { return gs(1, to, `{"msg":"hello"}`) }},
		{"location", 3, func(to string) string { return gs(5, to, `{"lat":"39.966","lng":"116.322","addr":"Haidian"}`) }},
		{"command", 2, func(to string) string { return gs(6, to, `{"action":"refresh"}`) }},
	}
	// docs/mapping.md, "Kind × target".
	want := map[string][3]uint64{ // candidate/kind → exact, degraded, rejected
		"youdu/text":       {5, 0, 0},
		"youdu/location":   {0, 3, 0},
		"youdu/command":    {0, 0, 2},
		"netease/text":     {5, 0, 0},
		"netease/location": {3, 0, 0},
		"netease/command":  {0, 2, 0},
	}
	total := 0
	for _, s := range sends {
		for i := range s.n {
			to := fmt.Sprintf("sh%s%d", s.kind[:3], i)
			a := e.send(config.Getsender, config.Easemob, good, "/sender/v1/handleBusinessMessage", s.body(to))
			if !accepted(config.Getsender, a, to) {
				t.Fatalf("%s to %s: %s", s.kind, to, clip(a.body))
			}
			total++
		}
	}
	waitUntil(t, 20*time.Second, "the shadow jobs", func() bool {
		return jobRow(e.relay.Migration(), route, "shadow").Done == uint64(total)
	})
	rep := e.relay.Migration()
	got := map[string][3]uint64{}
	for _, r := range rep.Shadow {
		if r.Route != route {
			continue
		}
		k := r.Candidate + "/" + r.Kind
		if _, dup := got[k]; dup {
			t.Errorf("two rows for %s", k)
		}
		got[k] = [3]uint64{r.Exact, r.Degraded, r.Rejected}
		if wantPair := config.Getsender + "->" + r.Candidate; r.Pair != wantPair {
			t.Errorf("%s: pair %q, want %q", k, r.Pair, wantPair)
		}
		byOutcome := map[string]uint64{}
		for _, re := range r.Reasons {
			if strings.TrimSpace(re.Reason) == "" {
				t.Errorf("%s: an empty %s reason", k, re.Outcome)
			}
			byOutcome[re.Outcome] += re.Count
		}
		if byOutcome["degraded"] != r.Degraded || byOutcome["rejected"] != r.Rejected || len(byOutcome) > 2 {
			t.Errorf("%s: reasons %+v do not account for %d degraded and %d rejected", k, r.Reasons, r.Degraded, r.Rejected)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("shadow counts (exact, degraded, rejected):\n got %v\nwant %v", got, want)
	}
	for _, v := range []string{config.Youdu, config.Netease} {
		if n := e.vendors[v].core.Inbox.Len(); n != 0 {
			t.Errorf("the shadow candidate %s received %d messages", v, n)
		}
	}
	if n := e.vendors[config.Easemob].core.Inbox.Len(); n != total {
		t.Errorf("the primary received %d messages, want %d", n, total)
	}
	if j := jobRow(rep, route, "shadow"); j.Dropped != 0 {
		t.Errorf("%d shadow jobs dropped with room in the queue", j.Dropped)
	}
}
