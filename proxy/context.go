package proxy

import (
	"context"
	"sync"
	"time"
)

// reqContext is the context.Context of one request: its deadline and
// nothing else. It lives in the pooled exchange, so a request costs no
// context allocation; its done channel and timer are armed only when
// someone waits on Done (a full pool, a provider at its limit), which is
// the slow path anyway.
type reqContext struct {
	mu       sync.Mutex
	deadline time.Time
	done     chan struct{}
	err      error
	armed    bool
	timer    *time.Timer
}

var _ context.Context = (*reqContext)(nil)

// reset starts the context for a new request.
func (c *reqContext) reset(deadline time.Time) {
	c.mu.Lock()
	c.deadline = deadline
	c.done = nil
	c.err = nil
	c.mu.Unlock()
}

// stop disarms the timer at the end of a request.
func (c *reqContext) stop() {
	c.mu.Lock()
	if c.armed {
		c.timer.Stop()
		c.armed = false
	}
	c.mu.Unlock()
}

func (c *reqContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *reqContext) Value(any) any { return nil }

func (c *reqContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.checkLocked()
	if c.err != nil {
		return c.done
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(time.Until(c.deadline), c.fire)
	} else {
		c.timer.Reset(time.Until(c.deadline))
	}
	c.armed = true
	return c.done
}

func (c *reqContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkLocked()
	return c.err
}

// checkLocked expires the context once its deadline has passed.
func (c *reqContext) checkLocked() {
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
		if c.done != nil {
			close(c.done)
		}
	}
}

// fire is the timer's callback. A late fire from an earlier request finds
// the deadline not yet reached and does nothing.
func (c *reqContext) fire() {
	c.mu.Lock()
	c.checkLocked()
	c.mu.Unlock()
}
