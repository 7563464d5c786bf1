package emu

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Prefix is where every emulator serves the admin surface. No vendor API
// uses it.
const Prefix = "/_sandbox/"

// Config configures a [Core].
type Config struct {
	// Vendor names the emulator ("easemob"); it is stamped on inbox entries.
	Vendor string
	// Seed starts the fault generator; the same seed and the same calls
	// give the same faults.
	Seed int64
	// InboxSize caps the inbox; 0 means DefaultInboxSize.
	InboxSize int
	// Now is the clock for tokens, rate limits and inbox times; nil means
	// time.Now. Tests pass a [ManualClock]'s Now.
	Now func() time.Time
	// Sleep waits out injected latency; nil means time.Sleep. Tests may
	// pass a recorder instead of waiting.
	Sleep func(time.Duration)
}

// Core is what one vendor emulator shares with the others: its inbox, its
// faults, its clock and its message ids.
type Core struct {
	Vendor string
	Inbox  *Inbox
	Media  *MediaStore
	Faults *Injector
	Now    func() time.Time

	sleep  func(time.Duration)
	idMu   sync.Mutex
	lastID int64
}

// New returns a core with an empty inbox and no faults.
func New(cfg Config) *Core {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	sleep := cfg.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	return &Core{
		Vendor: cfg.Vendor,
		Inbox:  NewInbox(cfg.InboxSize, now),
		Media:  NewMediaStore(0, now),
		Faults: NewInjector(cfg.Seed, now),
		Now:    now,
		sleep:  sleep,
	}
}

// NewID returns a positive int64 unique within this core, shaped like the
// ids of large IM vendors: the clock in milliseconds shifted left by 22
// bits, plus a counter. Ids only grow, even if the clock goes back.
func (c *Core) NewID() int64 {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	id := c.Now().UnixMilli() << 22
	if id <= c.lastID {
		id = c.lastID + 1
	}
	c.lastID = id
	return id
}

// NewIDString is NewID as a decimal string.
func (c *Core) NewIDString() string { return strconv.FormatInt(c.NewID(), 10) }

// Answers tell the core how the vendor reports faults the core injects.
type Answers struct {
	// Internal writes the vendor's internal-error answer (for error_rate).
	// When nil the core does not apply error_rate to whole calls: the
	// vendor applies it itself with Faults.Fail (per message, say).
	Internal fasthttp.RequestHandler
	// Limited writes the vendor's rate-limit answer (for rate_limit). When
	// nil the core answers 429 with an empty body.
	Limited fasthttp.RequestHandler
}

// Handler returns the emulator's full handler: the admin surface under
// [Prefix], and for every other path the faults, in this order — latency,
// dropped connection, rate limit, internal error — then api. info, when
// not nil, gives the value served as JSON at GET /_sandbox/info.
func (c *Core) Handler(api fasthttp.RequestHandler, ans Answers, info func() any) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if p := ctx.Path(); bytes.HasPrefix(p, []byte(Prefix)) || string(p) == Prefix[:len(Prefix)-1] {
			c.admin(ctx, info)
			return
		}
		if d := c.Faults.Delay(); d > 0 {
			c.sleep(d)
		}
		if c.Faults.Drop() {
			DropConn(ctx)
			return
		}
		if !c.Faults.TakeCall() {
			if ans.Limited != nil {
				ans.Limited(ctx)
			} else {
				ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			}
			return
		}
		if ans.Internal != nil && c.Faults.Fail() {
			ans.Internal(ctx)
			return
		}
		api(ctx)
	}
}

// DropConn closes the call's connection without writing any answer.
func DropConn(ctx *fasthttp.RequestCtx) {
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) { _ = c.Close() })
}

// WriteJSON answers with status and v as JSON
// (Content-Type: application/json;charset=UTF-8). A value that cannot be
// encoded becomes a 500 with an "error" field.
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = fasthttp.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "emu: encode answer: " + err.Error()})
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json;charset=UTF-8")
	ctx.SetBody(b)
}
