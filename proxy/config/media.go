package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Media configures the media bridge (package proxy/media): which hosts
// attachments may be fetched from, how big each kind may be, how long a
// fetch-and-upload may take, and how long a target's media reference is
// reused.
type Media struct {
	// AllowHosts are the host names attachment URLs may be fetched from:
	// "files.example.com" or "*.example.com". Empty: no URL is fetched
	// (vendor-hosted media ids are still brought over with the source
	// vendor's credentials).
	AllowHosts []string `yaml:"allow_hosts"`
	// AllowPrivate are host names that may resolve to private, loopback or
	// link-local addresses; every other host is refused such addresses,
	// checked on the address actually dialled.
	AllowPrivate []string `yaml:"allow_private"`
	// MaxBytes per kind (image, audio, video, file); a kind not listed
	// takes the bridge's default (10 MiB).
	MaxBytes map[string]Size `yaml:"max_bytes"`
	// Timeout bounds one fetch and upload; default 20s.
	Timeout time.Duration `yaml:"timeout"`
	// TTL per target dialect: how long an uploaded file's reference is
	// reused for the same source (defaults: youdu 72h, easemob 168h,
	// netease 24h).
	TTL map[string]time.Duration `yaml:"ttl"`
	// CacheSize caps the references kept per target dialect; default 10000.
	CacheSize int `yaml:"cache_size"`
}

// RouteMedia is a route's use of the media bridge.
type RouteMedia struct {
	// Off disables the bridge on the route: media reaches the target codec
	// as the client sent it.
	Off bool `yaml:"off"`
	// Rehost uploads URL attachments to Easemob and NetEase targets too
	// (by default they get the URL as it is).
	Rehost bool `yaml:"rehost"`
	// Sources name the providers whose media ids the bridge may download
	// (a Youdu media_id, an Easemob chatfile). Default: every provider of
	// the configuration, one per dialect, the first by name.
	Sources []string `yaml:"sources"`
}

// MediaKinds are the kinds max_bytes may name.
var MediaKinds = []string{"image", "audio", "video", "file"}

func (m *Media) validate(v *validator) {
	for i, h := range append(append([]string{}, m.AllowHosts...), m.AllowPrivate...) {
		name := h
		if host, port, err := net.SplitHostPort(h); err == nil {
			if _, perr := strconv.ParseUint(port, 10, 16); perr != nil || strings.Contains(host, "*") {
				host = ""
			}
			name = host
		}
		if name == "" || strings.ContainsAny(name, "/@ []") || strings.Contains(name, ":") && net.ParseIP(name) == nil ||
			strings.Count(name, "*") > 1 || strings.Contains(name, "*") && !strings.HasPrefix(name, "*.") {
			v.add(fmt.Sprintf("media.allow_hosts/allow_private[%d]", i), fmt.Sprintf("%q is not a host name", h),
				`write a name such as "files.example.com", "*.example.com" or "127.0.0.1:8081", without scheme or path`)
		}
	}
	for k, n := range m.MaxBytes {
		if !contains(MediaKinds, k) {
			v.add("media.max_bytes."+k, "not a media kind", "use image, audio, video or file")
		}
		if n <= 0 {
			v.add("media.max_bytes."+k, "not positive", "give a size such as 10MiB")
		}
	}
	if m.Timeout < 0 {
		v.add("media.timeout", "negative", "use a duration such as 20s")
	}
	for k, d := range m.TTL {
		if !IsDialect(k) {
			v.add("media.ttl."+k, "not a dialect", "use youdu, easemob or netease")
		}
		if d <= 0 {
			v.add("media.ttl."+k, "not positive", "use a duration such as 24h")
		}
	}
	if m.CacheSize < 0 {
		v.add("media.cache_size", "negative", "use a count such as 10000")
	}
}

func (r *RouteMedia) validate(v *validator, key string, c *Config) {
	for i, s := range r.Sources {
		if c.Providers[s] == nil {
			v.add(fmt.Sprintf("%s.media.sources[%d]", key, i), fmt.Sprintf("no provider %q", s), "name a provider of `providers`")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
