package upstream

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// counter is a FetchFunc that issues tok1, tok2, ... valid for life.
type counter struct {
	clock *fakeClock
	life  time.Duration
	n     atomic.Int32
	gate  chan struct{} // when not nil, each fetch waits for a value
	done  chan struct{} // when not nil, each fetch signals its end
}

func (c *counter) fetch(ctx context.Context) (Token, error) {
	if c.gate != nil {
		<-c.gate
	}
	n := c.n.Add(1)
	if c.done != nil {
		defer func() { c.done <- struct{}{} }()
	}
	return Token{Value: "tok" + strconv.Itoa(int(n)), Expires: c.clock.Now().Add(c.life)}, nil
}

func TestBrokerCachesUntilRefreshWindow(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	b := NewBroker(BrokerConfig{Now: clk.Now})
	c := &counter{clock: clk, life: time.Hour, done: make(chan struct{}, 4)}
	get := func() string {
		t.Helper()
		tok, err := b.Get(context.Background(), "p", 5*time.Minute, c.fetch)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if got := get(); got != "tok1" {
		t.Fatalf("first = %s", got)
	}
	<-c.done
	clk.Add(50 * time.Minute)
	if got := get(); got != "tok1" {
		t.Fatalf("cached = %s", got)
	}
	if n := c.n.Load(); n != 1 {
		t.Fatalf("fetches = %d before the refresh window", n)
	}

	// Within 5 minutes of expiry: the old token is still served, and one
	// background refresh replaces it.
	clk.Add(6 * time.Minute)
	if got := get(); got != "tok1" {
		t.Fatalf("in the window = %s, want the still valid tok1", got)
	}
	_ = get() // a second caller in the window must not start another refresh
	<-c.done
	if got := get(); got != "tok2" {
		t.Fatalf("after the refresh = %s", got)
	}
	if s := b.Stats(); s.Background != 1 || s.Fetches != 2 {
		t.Errorf("stats = %+v", s)
	}

	// Past expiry with no refresh: the caller waits for a new token.
	clk.Add(2 * time.Hour)
	if got := get(); got != "tok3" {
		t.Fatalf("after expiry = %s", got)
	}
}

func TestBrokerBurstSharesOneFetch(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	b := NewBroker(BrokerConfig{Now: clk.Now})
	c := &counter{clock: clk, life: time.Hour, gate: make(chan struct{})}
	const n = 20
	var wg sync.WaitGroup
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := b.Get(context.Background(), "p", time.Minute, c.fetch)
			if err != nil {
				t.Error(err)
			}
			results <- tok
		}()
	}
	close(c.gate) // let the one fetch finish once callers are queued or arriving
	wg.Wait()
	close(results)
	for tok := range results {
		if tok != "tok1" {
			t.Errorf("got %s", tok)
		}
	}
	if got := c.n.Load(); got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
}

func TestBrokerDropOnlySameToken(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	b := NewBroker(BrokerConfig{Now: clk.Now})
	c := &counter{clock: clk, life: time.Hour}
	tok, _ := b.Get(context.Background(), "p", 0, c.fetch)
	b.Drop("p", "other") // a stale drop must not remove the current token
	if again, _ := b.Get(context.Background(), "p", 0, c.fetch); again != tok {
		t.Fatalf("token changed after a stale drop: %s", again)
	}
	b.Drop("p", tok)
	if again, _ := b.Get(context.Background(), "p", 0, c.fetch); again != "tok2" {
		t.Fatalf("after drop = %s", again)
	}
	if s := b.Stats(); s.Drops != 1 {
		t.Errorf("drops = %d", s.Drops)
	}
}

func TestBrokerFetchError(t *testing.T) {
	b := NewBroker(BrokerConfig{})
	_, err := b.Get(context.Background(), "p", 0, func(context.Context) (Token, error) {
		return Token{}, errors.New("vendor says no")
	})
	if !errors.Is(err, ErrToken) {
		t.Fatalf("err = %v", err)
	}
	if s := b.Stats(); s.Failures != 1 {
		t.Errorf("failures = %d", s.Failures)
	}
}

func TestBrokerWaitBoundedByContext(t *testing.T) {
	b := NewBroker(BrokerConfig{})
	gate := make(chan struct{})
	defer close(gate)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Get(ctx, "p", 0, func(context.Context) (Token, error) {
		<-gate
		return Token{Value: "x", Expires: time.Now().Add(time.Hour)}, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestBrokerFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	b := NewBroker(BrokerConfig{})
	fetch := func(context.Context) (Token, error) {
		return Token{Value: "x", Expires: time.Now().Add(time.Hour)}, nil
	}
	ctx := context.Background()
	if _, err := b.Get(ctx, "p", time.Minute, fetch); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = b.Get(ctx, "p", time.Minute, fetch) }); n != 0 {
		t.Errorf("Get from the cache allocates %.1f times", n)
	}
}
