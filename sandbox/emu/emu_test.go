package emu

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestInboxFilterAndClear(t *testing.T) {
	clk := NewManualClock(t0)
	in := NewInbox(0, clk.Now)
	in.Add(Message{Vendor: "v", To: []string{"a", "b"}, Type: "txt", Body: json.RawMessage(`{"msg":"1"}`)})
	clk.Advance(time.Second)
	in.Add(Message{Vendor: "v", To: []string{"b"}, Type: "img"})
	in.Add(Message{Vendor: "v", To: []string{"c"}, Type: "txt"})

	if got := in.List(Filter{}); len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 {
		t.Fatalf("all: %+v", got)
	}
	if got := in.List(Filter{To: "b"}); len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("to=b: %+v", got)
	}
	if got := in.List(Filter{Type: "txt", Since: 1}); len(got) != 1 || got[0].Seq != 3 {
		t.Fatalf("type=txt since=1: %+v", got)
	}
	if got := in.List(Filter{To: "zz"}); got == nil || len(got) != 0 {
		t.Fatalf("to=zz: want empty non-nil, got %#v", got)
	}
	got := in.List(Filter{})
	if !got[0].Time.Equal(t0) || !got[1].Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("times: %v %v", got[0].Time, got[1].Time)
	}
	if n := in.Clear(); n != 3 || in.Len() != 0 {
		t.Fatalf("clear = %d, len %d", n, in.Len())
	}
	if m := in.Add(Message{}); m.Seq != 4 || m.To == nil {
		t.Fatalf("after clear: %+v", m)
	}
}

func TestInboxRing(t *testing.T) {
	in := NewInbox(3, nil)
	for i := range 5 {
		in.Add(Message{Type: fmt.Sprint(i)})
	}
	got := in.List(Filter{})
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 || in.Dropped() != 2 {
		t.Fatalf("ring: %+v dropped %d", got, in.Dropped())
	}
}

func TestInboxConcurrent(t *testing.T) {
	in := NewInbox(100, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				in.Add(Message{To: []string{fmt.Sprint(g)}, Type: fmt.Sprint(i)})
				in.List(Filter{To: "1"})
			}
		}()
	}
	wg.Wait()
	if in.Len() != 100 || in.Dropped() != 300 {
		t.Fatalf("len %d dropped %d", in.Len(), in.Dropped())
	}
	seen := map[int64]bool{}
	for _, m := range in.List(Filter{}) {
		if seen[m.Seq] {
			t.Fatalf("duplicate seq %d", m.Seq)
		}
		seen[m.Seq] = true
	}
}

func TestFaultsValidate(t *testing.T) {
	bad := []Faults{
		{Latency: -1},
		{Jitter: Duration(-time.Second)},
		{Latency: Duration(MaxDelay), Jitter: 1},
		{ErrorRate: 1.5},
		{ErrorRate: -0.1},
		{DropRate: 2},
		{ExpireTokens: -1},
		{RateLimit: -1},
		{RateBurst: -1},
		{MessageRate: -1},
		{MessageBurst: -2},
	}
	for _, f := range bad {
		if err := f.Validate(); err == nil || !strings.HasPrefix(err.Error(), "emu: ") {
			t.Errorf("%+v: err = %v", f, err)
		}
		if err := NewInjector(1, nil).Set(f); err == nil {
			t.Errorf("Set(%+v) accepted", f)
		}
	}
	if err := (Faults{Latency: Duration(time.Second), ErrorRate: 1, DropRate: 0.5, RateLimit: 3}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDurationJSON(t *testing.T) {
	var f Faults
	if err := json.Unmarshal([]byte(`{"latency":"150ms","jitter":20}`), &f); err != nil {
		t.Fatal(err)
	}
	if time.Duration(f.Latency) != 150*time.Millisecond || time.Duration(f.Jitter) != 20*time.Millisecond {
		t.Fatalf("%+v", f)
	}
	b, _ := json.Marshal(Faults{Latency: Duration(2 * time.Second)})
	if !strings.Contains(string(b), `"latency":"2s"`) || !strings.Contains(string(b), `"jitter":"0s"`) {
		t.Fatalf("%s", b)
	}
	for _, in := range []string{`{"latency":"fast"}`, `{"latency":true}`} {
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestDrawsAreSeeded(t *testing.T) {
	run := func(seed int64) string {
		in := NewInjector(seed, nil)
		if err := in.Set(Faults{ErrorRate: 0.5, DropRate: 0.3, Jitter: Duration(time.Second)}); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for range 64 {
			fmt.Fprint(&sb, in.Fail(), in.Drop(), in.Delay(), ";")
		}
		return sb.String()
	}
	if run(7) != run(7) {
		t.Fatal("same seed, different draws")
	}
	if run(7) == run(8) {
		t.Fatal("different seeds, same draws")
	}
	// Reseeding over PUT restarts the sequence.
	in := NewInjector(1, nil)
	seed := int64(7)
	_ = in.Set(Faults{ErrorRate: 0.5, DropRate: 0.3, Jitter: Duration(time.Second), Seed: &seed})
	var sb strings.Builder
	for range 64 {
		fmt.Fprint(&sb, in.Fail(), in.Drop(), in.Delay(), ";")
	}
	if sb.String() != run(7) {
		t.Fatal("reseed did not restart the sequence")
	}
	if got := in.Get().Seed; got == nil || *got != 7 {
		t.Fatalf("seed shown %v", got)
	}
}

func TestRates(t *testing.T) {
	in := NewInjector(42, nil)
	_ = in.Set(Faults{ErrorRate: 0.25, DropRate: 1})
	fails := 0
	for range 4000 {
		if in.Fail() {
			fails++
		}
		if !in.Drop() {
			t.Fatal("drop_rate 1 must always drop")
		}
	}
	if fails < 850 || fails > 1150 {
		t.Fatalf("error_rate 0.25 gave %d/4000", fails)
	}
	if s := in.Stats(); s.Failed != int64(fails) || s.Dropped != 4000 {
		t.Fatalf("stats %+v", s)
	}
	in.Reset()
	if in.Fail() || in.Drop() || in.Delay() != 0 || in.TakeExpiry() || in.Stats() != (Stats{}) {
		t.Fatal("reset left faults")
	}
}

func TestDelay(t *testing.T) {
	in := NewInjector(3, nil)
	_ = in.Set(Faults{Latency: Duration(100 * time.Millisecond)})
	if d := in.Delay(); d != 100*time.Millisecond {
		t.Fatalf("fixed latency %v", d)
	}
	_ = in.Set(Faults{Latency: Duration(100 * time.Millisecond), Jitter: Duration(50 * time.Millisecond)})
	distinct := map[time.Duration]bool{}
	for range 100 {
		d := in.Delay()
		if d < 100*time.Millisecond || d >= 150*time.Millisecond {
			t.Fatalf("jittered delay %v out of [100ms,150ms)", d)
		}
		distinct[d] = true
	}
	if len(distinct) < 50 {
		t.Fatalf("jitter barely varies: %d distinct", len(distinct))
	}
}

func TestExpiry(t *testing.T) {
	in := NewInjector(1, nil)
	_ = in.Set(Faults{ExpireTokens: 2})
	if !in.TakeExpiry() || in.Get().ExpireTokens != 1 || !in.TakeExpiry() || in.TakeExpiry() {
		t.Fatal("expire_tokens 2 must expire exactly two calls")
	}
	if in.Stats().Expired != 2 {
		t.Fatalf("stats %+v", in.Stats())
	}
}

func TestBuckets(t *testing.T) {
	clk := NewManualClock(t0)
	in := NewInjector(1, clk.Now)
	_ = in.Set(Faults{RateLimit: 2, MessageRate: 10, MessageBurst: 20})
	if !in.TakeCall() || !in.TakeCall() || in.TakeCall() {
		t.Fatal("rate 2: burst must be 2")
	}
	clk.Advance(500 * time.Millisecond)
	if !in.TakeCall() || in.TakeCall() {
		t.Fatal("half a second refills one call")
	}
	clk.Advance(time.Hour)
	if !in.TakeCall() || !in.TakeCall() || in.TakeCall() {
		t.Fatal("refill is capped by the burst")
	}
	if !in.TakeMessages(15) || in.TakeMessages(6) || !in.TakeMessages(5) {
		t.Fatal("message bucket of 20")
	}
	if in.TakeMessages(21) {
		t.Fatal("more than the burst must never pass")
	}
	clk.Advance(time.Second)
	if !in.TakeMessages(10) {
		t.Fatal("one second refills 10 messages")
	}
	if s := in.Stats(); s.Limited != 3 || s.MessageLimited != 2 {
		t.Fatalf("stats %+v", s)
	}
	_ = in.Set(Faults{})
	for range 1000 {
		if !in.TakeCall() || !in.TakeMessages(1000) {
			t.Fatal("no limit set, yet limited")
		}
	}
}

func TestNewID(t *testing.T) {
	clk := NewManualClock(t0)
	c := New(Config{Now: clk.Now})
	a := c.NewID()
	if a != t0.UnixMilli()<<22 {
		t.Fatalf("id %d", a)
	}
	b := c.NewID()
	clk.Advance(-time.Hour)
	d := c.NewID()
	if !(a < b && b < d) {
		t.Fatalf("ids not increasing: %d %d %d", a, b, d)
	}
	if s := c.NewIDString(); s != fmt.Sprint(d+1) {
		t.Fatalf("string id %s", s)
	}
}
