package emu

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// MaxDelay caps Latency+Jitter so a fault cannot hang a server's shutdown.
const MaxDelay = time.Minute

// Faults are the misbehaviours an emulator injects, set at run time. The
// zero value injects nothing. In JSON, durations are strings such as
// "150ms" (a bare number is read as milliseconds).
type Faults struct {
	// Latency is added before every vendor call is answered.
	Latency Duration `json:"latency"`
	// Jitter adds a uniformly drawn extra delay in [0, Jitter).
	Jitter Duration `json:"jitter"`
	// ErrorRate is the fraction (0..1) of calls answered with the vendor's
	// internal error. Vendors that report per-message failures (opapp)
	// apply it per message instead.
	ErrorRate float64 `json:"error_rate"`
	// ExpireTokens makes the next N authenticated calls fail with the
	// vendor's expired-token answer, whatever token they carry. GET shows
	// how many are left.
	ExpireTokens int `json:"expire_tokens"`
	// RateLimit is a token bucket of calls per second (0 = off); calls over
	// it get the vendor's rate-limit answer.
	RateLimit float64 `json:"rate_limit"`
	// RateBurst is the bucket size; 0 means max(1, ceil(RateLimit)).
	RateBurst int `json:"rate_burst"`
	// MessageRate is a second bucket, of messages per second, for vendors
	// whose limit counts messages (Easemob counts each recipient). A call
	// needing more messages than the bucket holds is refused whole.
	MessageRate float64 `json:"message_rate"`
	// MessageBurst is its size; 0 means max(1, ceil(MessageRate)).
	MessageBurst int `json:"message_burst"`
	// DropRate is the fraction (0..1) of calls whose connection is closed
	// without an answer.
	DropRate float64 `json:"drop_rate"`
	// Seed, when set in a PUT, restarts the fault generator from this seed.
	// GET shows the seed the generator last started from.
	Seed *int64 `json:"seed,omitempty"`
}

// Validate reports the first setting that is out of range.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0 || f.Jitter < 0:
		return errors.New("emu: latency and jitter must not be negative")
	case time.Duration(f.Latency)+time.Duration(f.Jitter) > MaxDelay:
		return fmt.Errorf("emu: latency+jitter must not exceed %s", MaxDelay)
	case !isRate(f.ErrorRate):
		return errors.New("emu: error_rate must be within 0..1")
	case !isRate(f.DropRate):
		return errors.New("emu: drop_rate must be within 0..1")
	case f.ExpireTokens < 0:
		return errors.New("emu: expire_tokens must not be negative")
	case f.RateLimit < 0 || math.IsNaN(f.RateLimit) || math.IsInf(f.RateLimit, 0) || f.RateBurst < 0:
		return errors.New("emu: rate_limit and rate_burst must not be negative")
	case f.MessageRate < 0 || math.IsNaN(f.MessageRate) || math.IsInf(f.MessageRate, 0) || f.MessageBurst < 0:
		return errors.New("emu: message_rate and message_burst must not be negative")
	}
	return nil
}

func isRate(r float64) bool { return r >= 0 && r <= 1 }

// Stats counts the faults an [Injector] injected since it was created or
// its faults were last set.
type Stats struct {
	Delayed        int64 `json:"delayed"`
	Dropped        int64 `json:"dropped"`
	Failed         int64 `json:"failed"`
	Limited        int64 `json:"limited"`
	MessageLimited int64 `json:"message_limited"`
	Expired        int64 `json:"expired"`
}

// Injector holds the current [Faults] of one emulator and draws them. It is
// safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	f     Faults
	seed  int64
	rng   *rand.Rand
	now   func() time.Time
	calls bucket
	msgs  bucket
	stats Stats
}

// NewInjector returns an injector with no faults, drawing from seed and
// reading time from now (nil means time.Now).
func NewInjector(seed int64, now func() time.Time) *Injector {
	if now == nil {
		now = time.Now
	}
	return &Injector{seed: seed, rng: newRand(seed), now: now}
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x696d72656c6179)) // "imrelay"
}

// Set replaces the faults, refills both buckets and zeroes the stats. It
// reseeds the generator when f.Seed is set.
func (in *Injector) Set(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if f.Seed != nil {
		in.seed = *f.Seed
		in.rng = newRand(in.seed)
	}
	f.Seed = nil
	in.f = f
	now := in.now()
	in.calls = newBucket(f.RateLimit, f.RateBurst, now)
	in.msgs = newBucket(f.MessageRate, f.MessageBurst, now)
	in.stats = Stats{}
	return nil
}

// Reset removes every fault (the generator keeps its state).
func (in *Injector) Reset() { _ = in.Set(Faults{}) }

// Get returns the current faults, with the expiries still pending and the
// seed the generator last started from.
func (in *Injector) Get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.f
	seed := in.seed
	f.Seed = &seed
	return f
}

// Stats returns what was injected since the faults were last set.
func (in *Injector) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

// Delay draws the delay to add to the current call: Latency plus a uniform
// share of Jitter.
func (in *Injector) Delay() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	d := time.Duration(in.f.Latency)
	if j := time.Duration(in.f.Jitter); j > 0 {
		d += time.Duration(in.rng.Int64N(int64(j)))
	}
	if d > 0 {
		in.stats.Delayed++
	}
	return d
}

// Drop draws whether to close the current call's connection unanswered.
func (in *Injector) Drop() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.draw(in.f.DropRate) {
		in.stats.Dropped++
		return true
	}
	return false
}

// Fail draws whether to answer with the vendor's internal error. Vendors
// that fail per message call it once per message.
func (in *Injector) Fail() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.draw(in.f.ErrorRate) {
		in.stats.Failed++
		return true
	}
	return false
}

// draw must be called with mu held. Rates 0 and 1 consume no randomness,
// so turning one knob does not shift the draws of the others.
func (in *Injector) draw(rate float64) bool {
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	return in.rng.Float64() < rate
}

// TakeCall takes one call from the call bucket; false means the call is
// over the rate limit.
func (in *Injector) TakeCall() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.calls.take(in.now(), 1) {
		return true
	}
	in.stats.Limited++
	return false
}

// TakeMessages takes n messages from the message bucket; false means the
// call is over the message limit and took nothing.
func (in *Injector) TakeMessages(n int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.msgs.take(in.now(), float64(n)) {
		return true
	}
	in.stats.MessageLimited++
	return false
}

// TakeExpiry reports whether the current authenticated call must be
// answered as if its token had expired, counting one forced expiry down.
// Vendors call it once per call, after the token has been checked (or
// would have been), before answering.
func (in *Injector) TakeExpiry() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.f.ExpireTokens > 0 {
		in.f.ExpireTokens--
		in.stats.Expired++
		return true
	}
	return false
}

// bucket is a token bucket; rate 0 means unlimited.
type bucket struct {
	rate, size, tokens float64
	last               time.Time
}

func newBucket(rate float64, burst int, now time.Time) bucket {
	if rate <= 0 {
		return bucket{}
	}
	size := float64(burst)
	if burst <= 0 {
		size = math.Max(1, math.Ceil(rate))
	}
	return bucket{rate: rate, size: size, tokens: size, last: now}
}

func (b *bucket) take(now time.Time, n float64) bool {
	if b.rate <= 0 {
		return true
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(b.size, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// Duration is a time.Duration that reads and writes JSON as a string like
// "150ms". Reading also accepts a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "150ms", "2s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("emu: duration: %w", err)
		}
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("emu: duration: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("emu: duration %s: want a string like \"150ms\" or milliseconds: %w", b, err)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}
