package emu

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// DefaultMediaSize is the number of uploaded files a [MediaStore] keeps.
const DefaultMediaSize = 1000

// Media describes one file an emulator accepted through its media API.
type Media struct {
	// ID is the vendor's reference: a Youdu mediaId, an Easemob uuid, the
	// last segment of a NetEase URL.
	ID string `json:"id"`
	// Kind is the vendor's media type word ("image", "file", "chatfile", …).
	Kind string `json:"kind,omitempty"`
	// Name is the file name the client gave, if any.
	Name string `json:"name,omitempty"`
	// ContentType is the type the client declared, if any.
	ContentType string `json:"content_type,omitempty"`
	// Size and MD5 (lowercase hex) describe the bytes as stored.
	Size int    `json:"size"`
	MD5  string `json:"md5"`
	// Secret is the share-secret a download must present ("" = none). It
	// is not listed.
	Secret string `json:"-"`
	// Time is when the upload was accepted.
	Time time.Time `json:"time"`
}

// MediaStore keeps uploaded files for the download APIs and for tests. It
// forgets the oldest file once it holds its capacity. It is safe for
// concurrent use.
type MediaStore struct {
	mu    sync.Mutex
	now   func() time.Time
	max   int
	order []string
	items map[string]mediaItem
	next  int64
}

type mediaItem struct {
	meta Media
	data []byte
}

// NewMediaStore returns a store for at most size files (DefaultMediaSize
// when size ≤ 0).
func NewMediaStore(size int, now func() time.Time) *MediaStore {
	if size <= 0 {
		size = DefaultMediaSize
	}
	if now == nil {
		now = time.Now
	}
	return &MediaStore{now: now, max: size, items: map[string]mediaItem{}}
}

// Put stores a copy of data under m.ID (a fresh id when empty), filling
// Size, MD5 and Time, and returns the stored description.
func (s *MediaStore) Put(m Media, data []byte) Media {
	sum := md5.Sum(data)
	m.Size, m.MD5 = len(data), hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if m.ID == "" {
		m.ID = "m" + strconv.FormatInt(s.next, 10)
	}
	m.Time = s.now()
	if _, dup := s.items[m.ID]; !dup {
		s.order = append(s.order, m.ID)
	}
	s.items[m.ID] = mediaItem{meta: m, data: append([]byte(nil), data...)}
	for len(s.order) > s.max {
		delete(s.items, s.order[0])
		s.order = s.order[1:]
	}
	return m
}

// Get returns a stored file and its bytes (shared: do not modify them).
func (s *MediaStore) Get(id string) (Media, []byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	return it.meta, it.data, ok
}

// List returns every stored file, oldest first.
func (s *MediaStore) List() []Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Media, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.items[id].meta)
	}
	return out
}

// Len returns the number of files held.
func (s *MediaStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// MediaType is the inbox Type of an upload entry.
const MediaType = "media-upload"

// AddUpload stores data in c.Media and records the upload in the inbox as
// a message of Type [MediaType] from path, its Body the description (with
// the md5 and size of the bytes), so tests see uploads next to messages.
func (c *Core) AddUpload(path string, m Media, data []byte) Media {
	m = c.Media.Put(m, data)
	body, _ := json.Marshal(m)
	c.Inbox.Add(Message{Vendor: c.Vendor, Path: path, Type: MediaType, Body: body, ID: m.ID})
	return m
}
