package upstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// Token is an access token and when it stops working.
type Token struct {
	Value   string
	Expires time.Time
}

// FetchFunc asks a vendor for a fresh token. It is called with a context
// of its own (not a client's), bounded by the broker's fetch timeout.
type FetchFunc func(ctx context.Context) (Token, error)

// BrokerStats counts what a [Broker] did.
type BrokerStats struct {
	Fetches    int64 // token calls made (including failed ones)
	Failures   int64 // token calls that failed
	Background int64 // refreshes started ahead of expiry
	Drops      int64 // tokens dropped after the vendor called them expired
}

// Broker caches vendor access tokens. A token is served from the cache
// until it is within the refresh window of its expiry; then one
// background call refreshes it while requests go on with the old one. A
// missing or expired token is fetched once however many requests want it
// (singleflight); they all wait for that one call. A token the vendor
// answered as expired is dropped with [Broker.Drop].
//
// The cache is a golang-lru/v2 expirable LRU: bounded in size, with a TTL
// that caps how long any token is kept whatever lifetime the vendor gave.
// A Broker is safe for concurrent use; the fast path does not allocate.
type Broker struct {
	cache   *expirable.LRU[string, *entry]
	group   singleflight.Group
	now     func() time.Time
	timeout time.Duration
	mu      sync.Mutex // orders Add after a fetch against Drop

	fetches, failures, background, drops atomic.Int64
}

type entry struct {
	tok        Token
	refreshing atomic.Bool
}

// BrokerConfig configures a [Broker]. Zero values mean the defaults.
type BrokerConfig struct {
	// Size is the most tokens kept (one per provider account); default 1024.
	Size int
	// MaxTTL caps how long a token is cached; default 24h.
	MaxTTL time.Duration
	// FetchTimeout bounds one token call; default 10s.
	FetchTimeout time.Duration
	// Now is the clock that decides expiry; nil means time.Now.
	Now func() time.Time
}

// NewBroker returns an empty broker.
func NewBroker(cfg BrokerConfig) *Broker {
	if cfg.Size <= 0 {
		cfg.Size = 1024
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Broker{
		cache:   expirable.NewLRU[string, *entry](cfg.Size, nil, cfg.MaxTTL),
		now:     cfg.Now,
		timeout: cfg.FetchTimeout,
	}
}

// ErrToken wraps every failure to obtain a token.
var ErrToken = errors.New("upstream: token")

// Get returns a valid token for key, fetching it with fetch when the cache
// has none that is still valid. ahead is the refresh window: a token that
// expires within it is still returned, and one background call refreshes
// it. ctx bounds only the wait, not the shared call.
func (b *Broker) Get(ctx context.Context, key string, ahead time.Duration, fetch FetchFunc) (string, error) {
	now := b.now()
	if e, ok := b.cache.Get(key); ok && now.Before(e.tok.Expires) {
		if !now.Before(e.tok.Expires.Add(-ahead)) && e.refreshing.CompareAndSwap(false, true) {
			b.background.Add(1)
			go func() {
				// The result lands in the cache; an error leaves the old
				// token in place until it expires and a caller fetches.
				_, _ = b.fetch(key, fetch)
			}()
		}
		return e.tok.Value, nil
	}
	ch := b.group.DoChan(key, func() (any, error) { return b.fetch(key, fetch) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %s: waiting for a token: %w", ErrToken, key, ctx.Err())
	}
}

// fetch makes one token call and caches the result.
func (b *Broker) fetch(key string, fetch FetchFunc) (string, error) {
	b.fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	tok, err := fetch(ctx)
	if err == nil && tok.Value == "" {
		err = errors.New("empty token")
	}
	if err != nil {
		b.failures.Add(1)
		if e, ok := b.cache.Peek(key); ok {
			e.refreshing.Store(false)
		}
		return "", fmt.Errorf("%w: %s: %w", ErrToken, key, err)
	}
	b.mu.Lock()
	b.cache.Add(key, &entry{tok: tok})
	b.mu.Unlock()
	return tok.Value, nil
}

// Drop forgets key's token if it is still value, so the next Get fetches
// a new one. A token already replaced by a refresh is left alone, so a
// burst of expired-token answers makes one token call, not many.
func (b *Broker) Drop(key, value string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.cache.Peek(key); ok && e.tok.Value == value {
		b.cache.Remove(key)
		b.drops.Add(1)
	}
}

// Stats returns the broker's counters.
func (b *Broker) Stats() BrokerStats {
	return BrokerStats{Fetches: b.fetches.Load(), Failures: b.failures.Load(), Background: b.background.Load(), Drops: b.drops.Load()}
}
