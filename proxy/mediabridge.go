package proxy

import (
	"bytes"
	"sync"

	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/media"
	"github.com/imrelay/imrelay/sdk/abi"
)

// The media bridge's state, per configuration generation: one bridge (its
// fetcher and caches) per loaded configuration, and what each route tells
// it. Both are built on a route's first media message, so a relay that
// never carries media pays nothing.
var (
	mediaBridges sync.Map // *config.Config → *media.Bridge
	mediaRoutes  sync.Map // *leg → *media.Route (nil: the route is off)
)

// bridgeMedia hands the batch to the media bridge between the middleware
// and encode_request: media the target must host is brought over and the
// canonical media rewritten. A failure is answered in the client's dialect
// naming the attachment.
func (x *exchange) bridgeMedia() *abi.GuestError {
	if !bytes.Contains(x.batch, mediaKey) {
		return nil // the common case: no attachment, no work
	}
	mr := x.mediaRoute()
	if mr == nil {
		return nil
	}
	b := mediaBridge(x.t.cfg)
	out, ge := b.Apply(&x.rc, x.deadline, mr, x.batch)
	if ge != nil {
		return ge
	}
	if len(out) > 0 && &out[0] != &x.batch[0] {
		x.batch = append(x.batch[:0], out...)
	}
	return nil
}

var mediaKey = []byte(`"media"`)

// forgetMedia drops the media bridge state of t when t is closed, so a
// relay reloaded many times does not keep one bridge per configuration it
// ever had.
func (t *table) forgetMedia() {
	mediaBridges.Delete(t.cfg)
	for _, r := range t.router.routes {
		for _, l := range r.legs {
			mediaRoutes.Delete(l)
		}
		if r.mirror != nil {
			mediaRoutes.Delete(r.mirror)
		}
	}
}

func mediaBridge(c *config.Config) *media.Bridge {
	if b, ok := mediaBridges.Load(c); ok {
		return b.(*media.Bridge)
	}
	m := &c.Media
	max := map[string]int64{}
	for k, v := range m.MaxBytes {
		max[k] = int64(v)
	}
	b, _ := mediaBridges.LoadOrStore(c, media.New(media.Config{
		AllowHosts: m.AllowHosts, AllowPrivate: m.AllowPrivate, MaxBytes: max,
		Timeout: m.Timeout, TTL: m.TTL, CacheSize: m.CacheSize,
	}))
	return b.(*media.Bridge)
}

// mediaRoute returns the bridge's view of the exchange's route, or nil
// when the bridge is off for it.
func (x *exchange) mediaRoute() *media.Route {
	if v, ok := mediaRoutes.Load(x.leg); ok {
		return v.(*media.Route)
	}
	var rc *config.Route
	for i := range x.t.cfg.Routes {
		if x.t.cfg.Routes[i].Name == x.r.name {
			rc = &x.t.cfg.Routes[i]
			break
		}
	}
	var mr *media.Route
	if rc != nil && !rc.Media.Off && x.leg.provider != nil {
		mr = &media.Route{
			Target:  x.leg.provider,
			Sources: map[string]media.Vendor{},
			Rehost:  rc.Media.Rehost,
			Degrade: rc.Policy == config.PolicyDegrade,
		}
		names := rc.Media.Sources
		if len(names) == 0 {
			names = x.t.cfg.ProviderNames()
		}
		for _, n := range names {
			p := x.t.providers[n]
			if p == nil || p.up == nil {
				continue
			}
			if _, dup := mr.Sources[p.up.Dialect()]; !dup {
				mr.Sources[p.up.Dialect()] = p.up
			}
		}
	}
	v, _ := mediaRoutes.LoadOrStore(x.leg, mr)
	return v.(*media.Route)
}
