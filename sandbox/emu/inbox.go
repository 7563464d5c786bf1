package emu

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// DefaultInboxSize is the number of messages an [Inbox] keeps when
// [Config.InboxSize] is zero.
const DefaultInboxSize = 10000

// Message is one message an emulator accepted.
type Message struct {
	// Seq numbers messages from 1 in the order the inbox received them.
	// It survives Clear: a cleared inbox goes on counting.
	Seq int64 `json:"seq"`
	// Time is when the message was accepted (the core's clock).
	Time time.Time `json:"time"`
	// Vendor is the emulator's name, e.g. "easemob".
	Vendor string `json:"vendor"`
	// Path is the endpoint that accepted it, e.g. "/org/app/messages/users".
	Path string `json:"path"`
	// From is the sender as the vendor understood it (after defaults).
	From string `json:"from"`
	// To lists the recipients (users, groups, rooms, departments).
	To []string `json:"to"`
	// Target says what To holds, in the vendor's own word
	// ("users", "chatgroups", "dept", …). Empty when the vendor has one kind.
	Target string `json:"target,omitempty"`
	// Type is the message type in the vendor's own word ("txt", "text", "1"…).
	Type string `json:"type"`
	// Body is the message as the vendor accepted it, as JSON.
	Body json.RawMessage `json:"body"`
	// ID is the message id the emulator answered with ("" when none).
	ID string `json:"id,omitempty"`
}

// Filter selects inbox messages. The zero Filter selects all.
type Filter struct {
	To    string // recipient that must be in Message.To
	Type  string // message type
	Since int64  // only messages with Seq > Since
}

func (f Filter) match(m *Message) bool {
	if f.Since > 0 && m.Seq <= f.Since {
		return false
	}
	if f.Type != "" && m.Type != f.Type {
		return false
	}
	if f.To != "" && !slices.Contains(m.To, f.To) {
		return false
	}
	return true
}

// Inbox keeps the messages an emulator accepted. It is a ring: when it
// holds its capacity, adding a message forgets the oldest one and counts it
// in Dropped. An emulator never refuses a message because its inbox is
// full — the inbox is a window for tests and people, not part of the vendor.
// An Inbox is safe for concurrent use.
type Inbox struct {
	mu      sync.Mutex
	now     func() time.Time
	buf     []Message // ring of len cap
	start   int       // index of the oldest message
	n       int       // messages held
	seq     int64
	dropped int64
}

// NewInbox returns an inbox holding at most size messages
// ([DefaultInboxSize] when size ≤ 0). now stamps messages without a Time;
// nil means time.Now.
func NewInbox(size int, now func() time.Time) *Inbox {
	if size <= 0 {
		size = DefaultInboxSize
	}
	if now == nil {
		now = time.Now
	}
	return &Inbox{now: now, buf: make([]Message, size)}
}

// Add stores m, giving it the next Seq and, when m.Time is zero, the
// current time. It copies Body and To, so callers may pass slices of a
// request buffer that fasthttp will reuse. It returns the stored message.
func (in *Inbox) Add(m Message) Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seq++
	m.Seq = in.seq
	if m.Time.IsZero() {
		m.Time = in.now()
	}
	m.To = append([]string{}, m.To...)
	m.Body = bytes.Clone(m.Body)
	if in.n == len(in.buf) {
		in.buf[in.start] = m
		in.start = (in.start + 1) % len(in.buf)
		in.dropped++
	} else {
		in.buf[(in.start+in.n)%len(in.buf)] = m
		in.n++
	}
	return m
}

// List returns the messages f selects, oldest first, in a new slice. The
// messages' To and Body are shared with the inbox: read them, do not modify
// them.
func (in *Inbox) List(f Filter) []Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := []Message{}
	for i := range in.n {
		m := &in.buf[(in.start+i)%len(in.buf)]
		if f.match(m) {
			out = append(out, *m)
		}
	}
	return out
}

// Len returns the number of messages held.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.n
}

// Dropped returns how many messages the ring forgot since the inbox was
// created or last cleared.
func (in *Inbox) Dropped() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dropped
}

// Clear forgets every message and returns how many there were. Sequence
// numbers go on from where they were.
func (in *Inbox) Clear() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.n
	clear(in.buf)
	in.start, in.n, in.dropped = 0, 0, 0
	return n
}
