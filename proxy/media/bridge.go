// Package media is the relay's media bridge. Between the middleware and
// the target's encode_request, it gives the target codec a media reference
// the target can carry: when the target needs media it hosts itself (a
// Youdu media_id; an Easemob chatfile or a NetEase upload when the route
// asks for re-hosting, or when the source is an id only another vendor can
// resolve), the bridge fetches the source — an allowed URL, or the source
// vendor's media id through that vendor's download API and credentials —
// uploads it with the target's credentials, and rewrites the canonical
// media before the codec sees it. Codecs stay pure: they never fetch.
//
// Results are cached source → target reference per target vendor with the
// vendor's media lifetime, and concurrent first sends of the same source
// share one fetch and one upload.
//
// Fetches obey the route's allowed hosts; private, loopback and link-local
// addresses are refused at dial time unless the host is allowed by name;
// each kind has a size limit and a content-type check; every step has a
// time limit. A failure is a client error naming the attachment
// (messages[i].media), unless the route degrades, in which case the media
// is left as it came and the codec applies its documented fallback.
package media

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"golang.org/x/sync/singleflight"

	"github.com/imrelay/imrelay/proxy/upstream"
	"github.com/imrelay/imrelay/sdk/abi"
)

// Dialect names (the values of media_vendor).
const (
	Youdu   = "youdu"
	Easemob = "easemob"
	Netease = "netease"
)

// Vendor is a provider with a media API: *upstream.Provider.
type Vendor interface {
	Name() string
	Dialect() string
	UploadMedia(ctx context.Context, deadline time.Time, f *upstream.MediaFile) (upstream.MediaRef, error)
	DownloadMedia(ctx context.Context, deadline time.Time, ref upstream.MediaRef, limit int64) (upstream.MediaFile, error)
}

// hosted says, per target dialect, which kinds the target can host (has an
// upload for) — the host-side table of what each target's codec needs. A
// Youdu codec carries image and file only as a Youdu media_id, so for Youdu
// these kinds always need the bridge; Easemob and NetEase take URLs and
// need it only to resolve a foreign media id, or when the route re-hosts.
// Getsender and opapp host nothing: they take URLs as they are.
var hosted = map[string]map[string]bool{
	Youdu:   {"image": true, "file": true},
	Easemob: {"image": true, "audio": true, "video": true, "file": true},
	Netease: {"image": true, "audio": true, "video": true, "file": true},
}

// Needs reports whether a message of kind to a target of dialect needs the
// target's own media reference, given the canonical media object and
// whether the route re-hosts URLs.
func Needs(dialect, kind string, m gjson.Result, rehost bool) bool {
	if !hosted[dialect][kind] {
		return false
	}
	vendor, id, u := m.Get("media_vendor").Str, m.Get("media_id").Str, m.Get("url").Str
	if vendor == dialect && (id != "" || u != "") {
		return false // already the target's
	}
	if dialect == Youdu {
		return id != "" || u != ""
	}
	if u == "" {
		return id != "" // a foreign id only its vendor can resolve
	}
	return rehost
}

// Defaults.
const (
	DefaultTimeout   = 20 * time.Second
	DefaultCacheSize = 10000
	DefaultTTL       = 24 * time.Hour
)

// DefaultMaxBytes are the size limits per kind.
var DefaultMaxBytes = map[string]int64{
	"image": 10 << 20,
	"audio": 10 << 20,
	"video": 10 << 20, // Easemob's /chatfiles limit
	"file":  10 << 20,
}

// DefaultTTLs are the cache lifetimes of a target's media references,
// below each vendor's media lifetime. Youdu does not document one; the
// relay keeps its ids three days, as enterprise-app temporary media
// usually lives. [ASSUMPTION]
var DefaultTTLs = map[string]time.Duration{
	Youdu:   72 * time.Hour,
	Easemob: 7 * 24 * time.Hour,
	Netease: 24 * time.Hour,
}

// Config configures a [Bridge].
type Config struct {
	// AllowHosts are the host names URLs may be fetched from: "name" or
	// "*.domain". Empty: no URL is fetched.
	AllowHosts []string
	// AllowPrivate are host names that may resolve to private, loopback or
	// link-local addresses (an in-process sandbox, an intranet file server).
	AllowPrivate []string
	// MaxBytes per kind; a missing kind takes DefaultMaxBytes.
	MaxBytes map[string]int64
	// Timeout bounds one fetch-and-upload; 0 means DefaultTimeout.
	Timeout time.Duration
	// TTL per target dialect; a missing one takes DefaultTTLs, then
	// DefaultTTL.
	TTL map[string]time.Duration
	// CacheSize caps the references kept per target dialect.
	CacheSize int
}

// Bridge rewrites canonical media for a target. It is safe for concurrent
// use.
type Bridge struct {
	cfg    Config
	fetch  *fetcher
	flight singleflight.Group

	mu     sync.Mutex
	caches map[string]*expirable.LRU[string, ref]

	uploads, fetches, hits atomic.Int64
}

// ref is a cached result: the target's reference and what the bytes told.
type ref struct {
	upstream.MediaRef
	meta Meta
}

// New returns a bridge.
func New(cfg Config) *Bridge {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	return &Bridge{
		cfg:    cfg,
		fetch:  newFetcher(cfg.AllowHosts, cfg.AllowPrivate, min(cfg.Timeout, 10*time.Second)),
		caches: map[string]*expirable.LRU[string, ref]{},
	}
}

// Stats counts the bridge's work since it started.
type Stats struct {
	Uploads, Fetches, CacheHits int64
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{Uploads: b.uploads.Load(), Fetches: b.fetches.Load(), CacheHits: b.hits.Load()}
}

func (b *Bridge) limit(kind string) int64 {
	if n, ok := b.cfg.MaxBytes[kind]; ok && n > 0 {
		return n
	}
	return DefaultMaxBytes[kind]
}

func (b *Bridge) cache(dialect string) *expirable.LRU[string, ref] {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.caches[dialect]
	if c == nil {
		ttl := b.cfg.TTL[dialect]
		if ttl <= 0 {
			ttl = DefaultTTLs[dialect]
		}
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		c = expirable.NewLRU[string, ref](b.cfg.CacheSize, nil, ttl)
		b.caches[dialect] = c
	}
	return c
}

// Route is what one route tells the bridge.
type Route struct {
	// Target is the provider the messages go to.
	Target Vendor
	// Sources are the providers whose media ids the bridge may download,
	// by dialect (the route's source vendor account).
	Sources map[string]Vendor
	// Rehost uploads URL media to Easemob and NetEase targets too.
	Rehost bool
	// Degrade leaves media the bridge cannot bring over as it came, for
	// the codec's documented fallback, instead of failing the request.
	Degrade bool
}

// Apply rewrites the media of every message of batch that the target needs
// hosted. It returns batch itself when nothing changed. A failure is a
// canonical error naming the attachment.
func (b *Bridge) Apply(ctx context.Context, deadline time.Time, rt *Route, batch []byte) ([]byte, *abi.GuestError) {
	if rt == nil || rt.Target == nil || hosted[rt.Target.Dialect()] == nil {
		return batch, nil
	}
	dialect := rt.Target.Dialect()
	msgs := gjson.GetBytes(batch, "messages")
	if !msgs.IsArray() {
		return batch, nil
	}
	out, copied := batch, false
	var ge *abi.GuestError
	i := -1
	msgs.ForEach(func(_, msg gjson.Result) bool {
		i++
		kind := msg.Get("kind").Str
		m := msg.Get("media")
		if !m.IsObject() || !Needs(dialect, kind, m, rt.Rehost) {
			return true
		}
		field := "messages[" + strconv.Itoa(i) + "].media"
		r, err := b.resolve(ctx, deadline, rt, kind, m)
		if err != nil {
			if rt.Degrade {
				return true
			}
			ge = guestError(field, err)
			return false
		}
		if !copied {
			// The caller's batch stays as it came until the end.
			out, copied = append([]byte(nil), batch...), true
		}
		out, err = rewrite(out, i, dialect, m, r)
		if err != nil {
			ge = &abi.GuestError{Code: abi.CodeInternal, Message: "the relay could not rewrite the attachment", Field: field}
			return false
		}
		return true
	})
	if ge != nil {
		return batch, ge
	}
	return out, nil
}

// guestError renders a failure for the client, naming the attachment and
// never a secret or a URL.
func guestError(field string, err error) *abi.GuestError {
	ge := &abi.GuestError{Field: field}
	switch {
	case errors.Is(err, ErrHostNotAllowed):
		ge.Code, ge.Message = abi.CodeForbidden, "the attachment's host is not one the route allows"
	case errors.Is(err, ErrPrivateAddress):
		ge.Code, ge.Message = abi.CodeForbidden, "the attachment's host resolves to a private address the route does not allow"
	case errors.Is(err, ErrTooLarge):
		ge.Code, ge.Message = abi.CodeTooLarge, "the attachment is larger than the route allows for its kind"
	case errors.Is(err, ErrContentType):
		ge.Code, ge.Message = abi.CodeBadRequest, "the attachment's content does not match the message kind"
	case errors.Is(err, errNoSource):
		ge.Code, ge.Message = abi.CodeBadRequest, "the attachment has no url or media_id the relay can fetch"
	case errors.Is(err, errUpload):
		ge.Code, ge.Message = abi.CodeUpstream, "the target refused the attachment's upload; the message was not sent"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		ge.Code, ge.Message = abi.CodeTimeout, "the attachment could not be brought over in time; the message was not sent"
	default:
		ge.Code, ge.Message = abi.CodeBadRequest, "the attachment could not be fetched"
	}
	// Not every dialect has a field for the field: the text names it too.
	ge.Message = field + ": " + ge.Message
	return ge
}

var (
	errNoSource = errors.New("media: no fetchable source")
	errUpload   = errors.New("media: upload failed")
)

// source is where a media's bytes come from, and its cache key.
type source struct {
	key    string
	url    string
	vendor Vendor
	ref    upstream.MediaRef
}

func (b *Bridge) sourceOf(rt *Route, m gjson.Result) (source, error) {
	vendor, id, u, secret := m.Get("media_vendor").Str, m.Get("media_id").Str, m.Get("url").Str, m.Get("secret").Str
	if v := rt.Sources[vendor]; v != nil {
		// A vendor-hosted file: download with the vendor's credentials.
		owned := false
		if o, ok := v.(interface{ OwnsMediaURL(string) bool }); ok && u != "" {
			owned = o.OwnsMediaURL(u)
		}
		if u == "" && id != "" || owned {
			return source{key: vendor + ":" + id + ":" + u, vendor: v, ref: upstream.MediaRef{ID: id, URL: u, Secret: secret}}, nil
		}
	}
	if u != "" {
		return source{key: "url:" + u, url: u}, nil
	}
	return source{}, errNoSource
}

// resolve returns the target's reference for m, from the cache or by
// fetching and uploading once for all concurrent callers.
func (b *Bridge) resolve(ctx context.Context, deadline time.Time, rt *Route, kind string, m gjson.Result) (ref, error) {
	src, err := b.sourceOf(rt, m)
	if err != nil {
		return ref{}, err
	}
	key := rt.Target.Name() + "\x00" + kind + "\x00" + src.key
	c := b.cache(rt.Target.Dialect())
	if r, ok := c.Get(key); ok {
		b.hits.Add(1)
		return r, nil
	}
	given := Meta{
		Name: m.Get("name").Str, Mime: m.Get("mime").Str,
		Width: int(m.Get("width").Int()), Height: int(m.Get("height").Int()), DurationMS: m.Get("duration_ms").Int(),
	}
	ch := b.flight.DoChan(key, func() (any, error) {
		// The work is shared: it runs under the bridge's own time limit,
		// not the first caller's, so one caller giving up does not fail
		// the others.
		wctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
		defer cancel()
		r, err := b.transfer(wctx, rt, kind, src, given)
		if err == nil {
			c.Add(key, r)
		}
		return r, err
	})
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	select {
	case res := <-ch:
		if res.Err != nil {
			return ref{}, res.Err
		}
		return res.Val.(ref), nil
	case <-dctx.Done():
		return ref{}, dctx.Err()
	}
}

// transfer fetches src, checks it, and uploads it to the target.
func (b *Bridge) transfer(ctx context.Context, rt *Route, kind string, src source, given Meta) (ref, error) {
	limit := b.limit(kind)
	deadline, _ := ctx.Deadline()
	var f upstream.MediaFile
	b.fetches.Add(1)
	if src.vendor != nil {
		var err error
		if f, err = src.vendor.DownloadMedia(ctx, deadline, src.ref, limit); err != nil {
			var tl *upstream.TooLargeError
			if errors.As(err, &tl) {
				return ref{}, ErrTooLarge
			}
			return ref{}, ErrFetch
		}
	} else {
		got, err := b.fetch.get(ctx, src.url, limit)
		if err != nil {
			return ref{}, err
		}
		f = upstream.MediaFile{Name: got.name, ContentType: got.contentType, Data: got.data}
	}
	if int64(len(f.Data)) > limit {
		return ref{}, ErrTooLarge
	}
	declared := f.ContentType
	if declared == "" {
		declared = given.Mime
	}
	ct, err := checkType(kind, declared, f.Data)
	if err != nil {
		return ref{}, err
	}
	name := given.Name
	if name == "" {
		name = f.Name
	}
	if name == "" && src.url != "" {
		if u, err := url.Parse(src.url); err == nil {
			name = lastSegment(u.Path)
		}
	}
	meta := describe(kind, name, ct, f.Data)
	if given.Width > 0 && given.Height > 0 {
		meta.Width, meta.Height = given.Width, given.Height
	}
	if given.DurationMS > 0 {
		meta.DurationMS = given.DurationMS
	}
	up := upstream.MediaFile{Kind: kind, Name: meta.Name, ContentType: ct, Data: f.Data}
	r, err := rt.Target.UploadMedia(ctx, deadline, &up)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ref{}, err
		}
		return ref{}, errUpload
	}
	b.uploads.Add(1)
	return ref{MediaRef: r, meta: meta}, nil
}

func lastSegment(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// rewrite sets the target's reference and the metadata on message i.
func rewrite(batch []byte, i int, dialect string, m gjson.Result, r ref) ([]byte, error) {
	p := "messages." + strconv.Itoa(i) + ".media."
	var err error
	set := func(k string, v any) {
		if err == nil {
			batch, err = sjson.SetBytes(batch, p+k, v)
		}
	}
	del := func(k string) {
		if err == nil && m.Get(k).Exists() {
			batch, err = sjson.DeleteBytes(batch, p+k)
		}
	}
	set("media_vendor", dialect)
	switch dialect {
	case Youdu:
		set("media_id", r.ID)
		del("secret")
	case Easemob:
		set("url", r.URL)
		set("media_id", r.ID)
		if r.Secret != "" {
			set("secret", r.Secret)
		} else {
			del("secret")
		}
	default:
		set("url", r.URL)
		del("media_id")
		del("secret")
	}
	fill := func(k string, v any, empty bool) {
		if !empty && !m.Get(k).Exists() {
			set(k, v)
		}
	}
	mt := r.meta
	set("size", mt.Size)
	set("md5", mt.MD5)
	fill("name", mt.Name, mt.Name == "")
	fill("ext", mt.Ext, mt.Ext == "")
	fill("mime", mt.Mime, mt.Mime == "")
	fill("width", mt.Width, mt.Width == 0)
	fill("height", mt.Height, mt.Height == 0)
	fill("duration_ms", mt.DurationMS, mt.DurationMS == 0)
	return batch, err
}
