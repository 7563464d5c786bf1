// Package config reads imrelay's YAML configuration: the listeners, the
// providers the relay sends to (with their credentials), the routes that map
// client calls to providers, the limits, and the settings of the plugin host.
//
// A configuration is parsed and validated once, at load. Every problem is
// reported as an [*Error] naming the file, the key (`routes[2].target`) and
// the fix, and all problems are reported together. Secrets never appear
// inline: a secret field holds `{env: NAME}` or `{file: PATH}` and is
// resolved at load. docs/config.md documents every key.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The five dialects imrelay speaks, inbound and outbound.
const (
	Getsender = "getsender"
	Opapp     = "opapp"
	Youdu     = "youdu"
	Netease   = "netease"
	Easemob   = "easemob"
)

// Dialects lists every dialect, in a stable order.
var Dialects = []string{Getsender, Opapp, Youdu, Netease, Easemob}

// IsDialect reports whether name is one of [Dialects].
func IsDialect(name string) bool { return slices.Contains(Dialects, name) }

// Policy values of a route.
const (
	PolicyReject  = "reject"
	PolicyDegrade = "degrade"
)

// Defaults applied by [Config.Validate] to zero values.
const (
	DefaultMaxBody           = 1 << 20
	DefaultMaxHeader         = 8 << 10
	DefaultMaxMessages       = 1000
	DefaultRequestTimeout    = 15 * time.Second
	DefaultMaxConcurrent     = 1024
	DefaultFanout            = 8
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultConnectTimeout    = 2 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 5 * time.Second
	DefaultMaxConns          = 64
	DefaultTokenRefreshAhead = 5 * time.Minute
	DefaultIssuedTokenTTL    = 2 * time.Hour
)

// Config is a whole imrelay configuration.
type Config struct {
	// File is where the configuration was read from ("" when built in
	// code). Error messages and relative secret files use it.
	File string `yaml:"-"`

	Listeners []Listener `yaml:"listeners"`
	// Providers are the vendors the relay sends to, by name.
	Providers map[string]*Provider `yaml:"providers"`
	Routes    []Route              `yaml:"routes"`
	Limits    Limits               `yaml:"limits"`
	Plugins   PluginHost           `yaml:"plugins"`
	// Admin is the operator's listener: metrics, health, the admin API.
	Admin Admin `yaml:"admin"`
	// Media configures the media bridge (docs/config.md, "media").
	Media Media `yaml:"media"`
	// ShutdownTimeout bounds how long a graceful shutdown waits for the
	// requests in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Listener is one address the relay accepts clients on.
type Listener struct {
	// Addr is host:port. A host that is not a loopback address (or an
	// empty host, which means every interface) exposes the relay.
	Addr string `yaml:"addr"`
}

// Admin configures the admin listener: /metrics, /healthz, /readyz and
// the admin API (routes, plugins, reload). It is off when Addr is empty.
type Admin struct {
	// Addr is host:port; a loopback host unless AllowRemote is set,
	// because the admin API can reload the relay.
	Addr string `yaml:"addr"`
	// AllowRemote permits a non-loopback Addr (behind a firewall or a
	// network policy that only lets the scraper in).
	AllowRemote bool `yaml:"allow_remote"`
}

func (a *Admin) validate(v *validator) {
	if a.Addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(a.Addr)
	if err != nil {
		v.add("admin.addr", fmt.Sprintf("%q is not host:port", a.Addr), "write it as \"127.0.0.1:9090\"")
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.add("admin.addr", fmt.Sprintf("port %q is not a number 0..65535", port), "write it as \"127.0.0.1:9090\"")
	}
	if !IsLoopback(host) && !a.AllowRemote {
		v.add("admin.addr", fmt.Sprintf("%q is not a loopback address, and the admin API can reload the relay", a.Addr),
			"listen on 127.0.0.1, or set `admin.allow_remote: true` if only trusted hosts can reach it")
	}
}

// Provider is one vendor account the relay sends messages to.
type Provider struct {
	// Name is the provider's key in the providers map.
	Name string `yaml:"-"`
	// Dialect is the API the provider speaks.
	Dialect string `yaml:"dialect"`
	// Codec is the plugin that encodes for it; default: the dialect.
	Codec string `yaml:"codec"`
	// BaseURL is scheme://host[:port][/prefix]; request paths are appended.
	BaseURL     string      `yaml:"base_url"`
	Credentials Credentials `yaml:"credentials"`

	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	ReadTimeout    time.Duration `yaml:"read_timeout"`
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	// MaxConns caps the connections to the provider.
	MaxConns int `yaml:"max_conns"`
	// Concurrency caps the requests in flight to the provider, across all
	// client requests; default MaxConns.
	Concurrency int `yaml:"concurrency"`
	// TokenRefreshAhead is how long before its expiry a cached token is
	// refreshed (Easemob, Youdu).
	TokenRefreshAhead time.Duration `yaml:"token_refresh_ahead"`
	// Options are handed to the provider's codec on every route that
	// targets it (route options override them key by key).
	Options map[string]any `yaml:"options"`
}

// Credentials are a vendor account's credentials. Which fields are needed
// depends on the dialect (see [RequiredCredentials]); secrets are [Secret]s.
type Credentials struct {
	// NetEase
	AppKey    string `yaml:"app_key"`
	AppSecret Secret `yaml:"app_secret"`
	// Easemob
	Org          string        `yaml:"org"`
	App          string        `yaml:"app"`
	ClientID     string        `yaml:"client_id"`
	ClientSecret Secret        `yaml:"client_secret"`
	TokenTTL     time.Duration `yaml:"token_ttl"`
	// Youdu
	Buin   int64  `yaml:"buin"`
	AppID  string `yaml:"app_id"`
	AESKey Secret `yaml:"aes_key"`
	// getsender, opapp
	Client string `yaml:"client"`
	Token  Secret `yaml:"token"`
	Sign   Secret `yaml:"sign"`
	// Query holds extra, non-secret query parameters sent on every call
	// (getsender/opapp `apiVersion`, opapp `version`).
	Query map[string]string `yaml:"query"`
}

// Route maps client calls to a provider.
type Route struct {
	// Name identifies the route in logs; default "<dialect>-><target>".
	Name string `yaml:"name"`
	// Method to match; default POST.
	Method string `yaml:"method"`
	// Host to match (without port); empty matches any.
	Host string `yaml:"host"`
	// Paths to match: `*` matches one path segment, a final `**` any rest.
	// Default: the dialect's message endpoints ([DefaultPaths]).
	Paths []string `yaml:"paths"`
	// Dialect is what the clients of this route speak.
	Dialect string `yaml:"dialect"`
	// Codec is the inbound codec plugin; default: the dialect.
	Codec string `yaml:"codec"`
	// Auth is how the relay checks these clients.
	Auth Auth `yaml:"auth"`
	// Target names the provider the messages go to.
	Target string `yaml:"target"`
	// Middleware plugins run on the canonical messages, in order.
	Middleware []string `yaml:"middleware"`
	// Policy for conversions that cannot be exact: reject or degrade.
	Policy string `yaml:"policy"`
	// Options per plugin: the keys `inbound`, `target` and the name of a
	// middleware. Each value is a JSON object handed to that plugin.
	Options map[string]map[string]any `yaml:"options"`
	// Media is the route's use of the media bridge.
	Media RouteMedia `yaml:"media"`
	// Migrate holds the route's migration controls: split, cohort,
	// mirror and shadow (docs/migration.md).
	Migrate Migrate `yaml:"migrate"`
	// Passthrough forwards the client's call to the target as it is:
	// verified, re-signed with the provider's credentials, not translated.
	// NetEase to NetEase only (passthrough.go).
	Passthrough bool `yaml:"passthrough"`
}

// Auth is how the relay verifies the clients of a route. It is on unless
// Disabled is set, which the loader allows only on loopback listeners.
type Auth struct {
	Disabled bool `yaml:"disabled"`
	// Credentials the clients use: NetEase app_key/app_secret; Easemob
	// org/app/client_id/client_secret; Youdu buin/app_id/aes_key.
	Credentials `yaml:",inline"`
	// Clients are the getsender/opapp client ids and their tokens.
	Clients []Client `yaml:"clients"`
	// Window is the NetEase CurTime window either side of now.
	Window time.Duration `yaml:"window"`
	// IssuedTokenTTL is the life of the tokens the relay issues to its
	// Easemob and Youdu clients.
	IssuedTokenTTL time.Duration `yaml:"issued_token_ttl"`
	// TokenKey signs the tokens the relay issues. Replicas behind one load
	// balancer share it; default: a random key per process.
	TokenKey Secret `yaml:"token_key"`
}

// Client is one getsender/opapp client.
type Client struct {
	ID    string `yaml:"id"`
	Token Secret `yaml:"token"`
	// Sign, when set, must equal the `sign` query parameter. The dialects
	// do not document how sign is computed, so it is compared as given.
	Sign Secret `yaml:"sign"`
}

// Limits bound what one client request may cost.
type Limits struct {
	MaxBody   Size `yaml:"max_body"`
	MaxHeader Size `yaml:"max_header"`
	// MaxMessages per client request, after decoding.
	MaxMessages    int           `yaml:"max_messages"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxConcurrent client requests in the whole relay; more are answered
	// busy at once.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Fanout is how many provider requests one client request may have in
	// flight at once.
	Fanout int `yaml:"fanout"`
}

// PluginHost configures the WebAssembly plugin host.
type PluginHost struct {
	CacheDir      string        `yaml:"cache_dir"`
	PoolSize      int           `yaml:"pool_size"`
	MemoryLimit   Size          `yaml:"memory_limit"`
	MaxCalls      int           `yaml:"max_calls"`
	RecycleMemory Size          `yaml:"recycle_memory"`
	CallTimeout   time.Duration `yaml:"call_timeout"`
	// Files are plugins loaded from disk, by name, pinned by sha256. A
	// file may override a built-in plugin of the same name.
	Files map[string]PluginFile `yaml:"files"`
	// Config gives a plugin, by name, its configuration: the value is
	// handed to the guest as JSON (sdk.Config), which may refuse it at load
	// (for example idmap's id tables). It is shared by every route.
	Config map[string]any `yaml:"config"`
	// ConfigJSON is Config encoded once by Validate.
	ConfigJSON map[string][]byte `yaml:"-"`
}

// PluginFile is an external plugin.
type PluginFile struct {
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
}

// Load reads, parses and validates the configuration in file.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(file, data)
}

// Parse parses and validates a configuration read from file (used in
// messages and to resolve relative secret files).
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, &Error{File: file, Problem: yamlProblem(err), Fix: "see docs/config.md for the keys and their types"}
	}
	c.File = file
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func yamlProblem(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// Error is one problem in a configuration.
type Error struct {
	File    string
	Key     string // e.g. routes[2].target; empty for the whole file
	Problem string
	Fix     string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// validator collects errors.
type validator struct {
	file string
	errs []error
}

func (v *validator) add(key, problem, fix string) {
	v.errs = append(v.errs, &Error{File: v.file, Key: key, Problem: problem, Fix: fix})
}

// Validate fills defaults, resolves secrets and checks the configuration.
// It returns every problem it finds, joined.
func (c *Config) Validate() error {
	v := &validator{file: c.File}
	if len(c.Listeners) == 0 {
		v.add("listeners", "no listener", "add `listeners: [{addr: \"127.0.0.1:8080\"}]`")
	}
	exposed := false
	for i := range c.Listeners {
		key := fmt.Sprintf("listeners[%d].addr", i)
		l := &c.Listeners[i]
		host, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			v.add(key, fmt.Sprintf("%q is not host:port", l.Addr), "write it as \"127.0.0.1:8080\"")
			continue
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			v.add(key, fmt.Sprintf("port %q is not a number 0..65535", port), "write it as \"127.0.0.1:8080\"")
		}
		if !IsLoopback(host) {
			exposed = true
		}
	}
	c.Limits.defaults()
	c.Limits.validate(v)
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	} else if c.ShutdownTimeout < 0 {
		v.add("shutdown_timeout", "negative", "use a duration such as 10s")
	}
	c.Plugins.validate(v)
	c.Admin.validate(v)
	c.Media.validate(v)

	if len(c.Providers) == 0 {
		v.add("providers", "no provider", "add a provider with a dialect, a base_url and credentials")
	}
	for _, name := range c.ProviderNames() {
		p := c.Providers[name]
		if p == nil {
			v.add("providers."+name, "empty", "give it a dialect, a base_url and credentials")
			continue
		}
		p.Name = name
		p.validate(v, c.dir())
	}
	if len(c.Routes) == 0 {
		v.add("routes", "no route", "add a route with a dialect and a target")
	}
	names := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		key := fmt.Sprintf("routes[%d]", i)
		r.validate(v, key, c)
		r.validatePassthrough(v, i, c)
		r.Media.validate(v, key, c)
		r.Migrate.validate(v, key, r, c)
		if j, dup := names[r.Name]; dup {
			v.add(key+".name", fmt.Sprintf("%q is also the name of routes[%d]", r.Name, j), "give each route its own name")
		} else {
			names[r.Name] = i
		}
		if r.Auth.Disabled && exposed {
			v.add(key+".auth.disabled", "the route has no client authentication and a listener is not on a loopback address: anyone who reaches it could send messages with the provider's credentials",
				"remove `disabled: true` and configure the clients' credentials, or listen on 127.0.0.1 only")
		}
	}
	return errors.Join(v.errs...)
}

// ProviderNames returns the provider names, sorted.
func (c *Config) ProviderNames() []string {
	names := make([]string, 0, len(c.Providers))
	for n := range c.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *Config) dir() string {
	if c.File == "" {
		return ""
	}
	return filepath.Dir(c.File)
}

// IsLoopback reports whether a listener host only accepts local clients:
// a loopback IP or "localhost". The empty host (every interface) is not.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *Limits) defaults() {
	if l.MaxBody == 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxHeader == 0 {
		l.MaxHeader = DefaultMaxHeader
	}
	if l.MaxMessages == 0 {
		l.MaxMessages = DefaultMaxMessages
	}
	if l.RequestTimeout == 0 {
		l.RequestTimeout = DefaultRequestTimeout
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = DefaultMaxConcurrent
	}
	if l.Fanout == 0 {
		l.Fanout = DefaultFanout
	}
}

func (l *Limits) validate(v *validator) {
	if l.MaxBody < 0 || l.MaxBody > 1<<30 {
		v.add("limits.max_body", "must be between 1 and 1GiB", "use a size such as 1MiB")
	}
	if l.MaxHeader < 0 || l.MaxHeader > 1<<20 {
		v.add("limits.max_header", "must be between 1 and 1MiB", "use a size such as 8KiB")
	}
	if l.MaxMessages < 0 {
		v.add("limits.max_messages", "negative", "use a positive count such as 1000")
	}
	if l.RequestTimeout < 0 {
		v.add("limits.request_timeout", "negative", "use a duration such as 15s")
	}
	if l.MaxConcurrent < 0 {
		v.add("limits.max_concurrent", "negative", "use a positive count such as 1024")
	}
	if l.Fanout < 0 {
		v.add("limits.fanout", "negative", "use a positive count such as 8")
	}
}

func (p *PluginHost) validate(v *validator) {
	if p.PoolSize < 0 {
		v.add("plugins.pool_size", "negative", "use a positive count or leave it out")
	}
	if p.MaxCalls < 0 {
		v.add("plugins.max_calls", "negative", "use a positive count or leave it out")
	}
	if p.MemoryLimit < 0 || p.MemoryLimit > 4<<30 {
		v.add("plugins.memory_limit", "must be between 64KiB and 4GiB", "use a size such as 128MiB")
	}
	if p.RecycleMemory < 0 || p.RecycleMemory > 4<<30 {
		v.add("plugins.recycle_memory", "must be between 0 and 4GiB", "use a size such as 32MiB")
	}
	if p.CallTimeout < 0 {
		v.add("plugins.call_timeout", "negative", "use a duration such as 1s, or leave it out for no deadline")
	}
	p.ConfigJSON = make(map[string][]byte, len(p.Config))
	for _, name := range sortedKeys(p.Config) {
		b, err := json.Marshal(p.Config[name])
		if err != nil {
			v.add("plugins.config."+name, "cannot be encoded as JSON: "+err.Error(), "give a mapping of strings, numbers, lists and mappings")
			continue
		}
		p.ConfigJSON[name] = b
	}
	for _, name := range sortedKeys(p.Files) {
		f := p.Files[name]
		key := "plugins.files." + name
		if f.Path == "" {
			v.add(key+".path", "missing", "give the path of the .wasm file")
		}
		if len(f.SHA256) != 64 || strings.Trim(strings.ToLower(f.SHA256), "0123456789abcdef") != "" {
			v.add(key+".sha256", "must be 64 hex characters", "pin the file with the output of `sha256sum FILE`")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (p *Provider) validate(v *validator, dir string) {
	key := "providers." + p.Name
	if !IsDialect(p.Dialect) {
		v.add(key+".dialect", fmt.Sprintf("%q is not a dialect", p.Dialect), "use one of "+strings.Join(Dialects, ", "))
	}
	if p.Codec == "" {
		p.Codec = p.Dialect
	}
	u, err := url.Parse(p.BaseURL)
	switch {
	case p.BaseURL == "":
		v.add(key+".base_url", "missing", "give the vendor's API base, such as https://api.example.com")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		v.add(key+".base_url", fmt.Sprintf("%q is not an http(s) URL without query", p.BaseURL), "write it as https://host[:port][/prefix]")
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = DefaultConnectTimeout
	}
	if p.ReadTimeout == 0 {
		p.ReadTimeout = DefaultReadTimeout
	}
	if p.WriteTimeout == 0 {
		p.WriteTimeout = DefaultWriteTimeout
	}
	if p.ConnectTimeout < 0 || p.ReadTimeout < 0 || p.WriteTimeout < 0 {
		v.add(key, "connect_timeout, read_timeout and write_timeout must not be negative", "use durations such as 5s")
	}
	if p.MaxConns == 0 {
		p.MaxConns = DefaultMaxConns
	}
	if p.Concurrency == 0 {
		p.Concurrency = p.MaxConns
	}
	if p.MaxConns < 0 || p.Concurrency < 0 {
		v.add(key, "max_conns and concurrency must be positive", "use counts such as 64")
	} else if p.Concurrency > p.MaxConns {
		v.add(key+".concurrency", fmt.Sprintf("%d requests in flight cannot fit in %d connections", p.Concurrency, p.MaxConns),
			"raise max_conns or lower concurrency (a request that finds no free connection is not sent)")
	}
	if p.TokenRefreshAhead == 0 {
		p.TokenRefreshAhead = DefaultTokenRefreshAhead
	}
	if p.TokenRefreshAhead < 0 {
		v.add(key+".token_refresh_ahead", "negative", "use a duration such as 5m")
	}
	p.Credentials.validate(v, key+".credentials", p.Dialect, dir)
}

// RequiredCredentials lists the credential keys a dialect needs, as a
// provider (outbound) and as the relay's own clients' credentials
// (inbound; getsender and opapp use `clients` instead).
func RequiredCredentials(dialect string) []string {
	switch dialect {
	case Netease:
		return []string{"app_key", "app_secret"}
	case Easemob:
		return []string{"org", "app", "client_id", "client_secret"}
	case Youdu:
		return []string{"buin", "app_id", "aes_key"}
	case Getsender, Opapp:
		return []string{"client", "token"}
	}
	return nil
}

func (c *Credentials) has(name string) bool {
	switch name {
	case "app_key":
		return c.AppKey != ""
	case "app_secret":
		return c.AppSecret.set()
	case "org":
		return c.Org != ""
	case "app":
		return c.App != ""
	case "client_id":
		return c.ClientID != ""
	case "client_secret":
		return c.ClientSecret.set()
	case "buin":
		return c.Buin != 0
	case "app_id":
		return c.AppID != ""
	case "aes_key":
		return c.AESKey.set()
	case "client":
		return c.Client != ""
	case "token":
		return c.Token.set()
	}
	return false
}

func (c *Credentials) validate(v *validator, key, dialect, dir string) {
	for _, name := range RequiredCredentials(dialect) {
		if !c.has(name) {
			fix := "set it"
			if strings.Contains(name, "secret") || name == "aes_key" || name == "token" {
				fix = "set it from the environment: `" + name + ": {env: NAME}` or a file: `" + name + ": {file: PATH}`"
			}
			v.add(key+"."+name, "missing for dialect "+dialect, fix)
		}
	}
	for _, s := range []struct {
		name string
		sec  *Secret
	}{{"app_secret", &c.AppSecret}, {"client_secret", &c.ClientSecret}, {"aes_key", &c.AESKey}, {"token", &c.Token}, {"sign", &c.Sign}} {
		s.sec.resolve(v, key+"."+s.name, dir)
	}
	if c.Buin < 0 {
		v.add(key+".buin", "negative", "use the company number (总机号) from the Youdu console")
	}
	if c.TokenTTL < 0 {
		v.add(key+".token_ttl", "negative", "use a duration such as 24h, or leave it out")
	}
	for _, k := range sortedKeys(c.Query) {
		switch k {
		case "client", "token", "sign", "accessToken":
			v.add(key+".query."+k, "is a credential, not an extra parameter", "set it with the credential key of the same name")
		}
	}
	if dialect == Easemob {
		for _, s := range []struct{ k, val string }{{"org", c.Org}, {"app", c.App}} {
			if strings.ContainsAny(s.val, "/?#% ") {
				v.add(key+"."+s.k, fmt.Sprintf("%q contains a character not allowed in a path segment", s.val), "use the name from the app key org#app")
			}
		}
	}
}

func (r *Route) validate(v *validator, key string, c *Config) {
	if !IsDialect(r.Dialect) {
		v.add(key+".dialect", fmt.Sprintf("%q is not a dialect", r.Dialect), "use one of "+strings.Join(Dialects, ", "))
	}
	if r.Codec == "" {
		r.Codec = r.Dialect
	}
	if r.Method == "" {
		r.Method = "POST"
	}
	r.Method = strings.ToUpper(r.Method)
	if r.Target == "" {
		v.add(key+".target", "missing", "name a provider from `providers`")
	} else if p := c.Providers[r.Target]; p == nil {
		v.add(key+".target", fmt.Sprintf("no provider named %q", r.Target), "use one of: "+strings.Join(c.ProviderNames(), ", "))
	}
	if r.Name == "" {
		r.Name = r.Dialect + "->" + r.Target
	}
	switch r.Policy {
	case "":
		r.Policy = PolicyReject
	case PolicyReject, PolicyDegrade:
	default:
		v.add(key+".policy", fmt.Sprintf("%q is not a policy", r.Policy), "use reject or degrade")
	}
	for i, m := range r.Middleware {
		if m == "" {
			v.add(fmt.Sprintf("%s.middleware[%d]", key, i), "empty plugin name", "name a middleware plugin")
		}
	}
	for k := range r.Options {
		if k != "inbound" && k != "target" && !slices.Contains(r.Middleware, k) {
			v.add(key+".options."+k, "not a plugin of this route", "use `inbound`, `target` or the name of one of the route's middleware")
		}
	}
	a := &r.Auth
	if a.Window == 0 {
		a.Window = 5 * time.Minute
	}
	if a.IssuedTokenTTL == 0 {
		a.IssuedTokenTTL = DefaultIssuedTokenTTL
	}
	if a.Window < 0 || a.IssuedTokenTTL < 0 {
		v.add(key+".auth", "window and issued_token_ttl must not be negative", "use durations such as 5m and 2h")
	}
	a.TokenKey.resolve(v, key+".auth.token_key", c.dir())
	if a.TokenKey.set() && len(a.TokenKey.Value()) < 16 {
		v.add(key+".auth.token_key", "shorter than 16 bytes", "use at least 32 random bytes, e.g. from `openssl rand -hex 32`")
	}
	if len(r.Paths) == 0 {
		r.Paths = DefaultPaths(r.Dialect, a.Org, a.App)
	}
	for i, p := range r.Paths {
		if err := CheckPattern(p); err != nil {
			v.add(fmt.Sprintf("%s.paths[%d]", key, i), err.Error(), "write a path such as /cgi/msg/send, with * for one segment and a final ** for the rest")
		}
	}
	if a.Disabled {
		return
	}
	akey := key + ".auth"
	switch r.Dialect {
	case Getsender, Opapp:
		if len(a.Clients) == 0 {
			v.add(akey+".clients", "no client for dialect "+r.Dialect, "list the clients: `clients: [{id: ID, token: {env: NAME}}]`, or `disabled: true` on a loopback-only relay")
		}
		for i := range a.Clients {
			cl := &a.Clients[i]
			ck := fmt.Sprintf("%s.clients[%d]", akey, i)
			if cl.ID == "" {
				v.add(ck+".id", "missing", "give the client id clients send as `client`")
			}
			cl.Token.resolve(v, ck+".token", c.dir())
			cl.Sign.resolve(v, ck+".sign", c.dir())
			if !cl.Token.set() {
				v.add(ck+".token", "missing", "set it from the environment: `token: {env: NAME}`")
			}
		}
	default:
		if len(a.Clients) > 0 {
			v.add(akey+".clients", "only getsender and opapp routes have clients", "give the credentials directly under auth")
		}
		a.Credentials.validate(v, akey, r.Dialect, c.dir())
	}
}

// DefaultPaths returns the message endpoints of a dialect, as route path
// patterns. Easemob paths carry the route's org and app (any when empty).
// The relay-owned token endpoints (Easemob `/{org}/{app}/token`, Youdu
// `/cgi/gettoken`) are added by the relay itself.
func DefaultPaths(dialect, org, app string) []string {
	switch dialect {
	case Getsender:
		return []string{"/sender/v1/handleBusinessMessage"}
	case Opapp:
		return []string{"/opapp/send2EasemobMessage"}
	case Youdu:
		return []string{"/cgi/msg/send"}
	case Netease:
		return []string{
			"/im/v2/conversations/*/messages",
			"/im/v2/conversations/messages",
			"/nimserver/im/v2/conversations/*/messages",
			"/nimserver/im/v2/conversations/messages",
			"/nimserver/msg/sendMsg.action",
			"/nimserver/msg/sendBatchMsg.action",
			"/msg/sendMsg.action",
			"/msg/sendBatchMsg.action",
		}
	case Easemob:
		if org == "" {
			org = "*"
		}
		if app == "" {
			app = "*"
		}
		base := "/" + org + "/" + app + "/messages"
		return []string{base, base + "/users", base + "/chatgroups", base + "/chatrooms", base + "/chatgroups/users"}
	}
	return nil
}

// CheckPattern reports whether p is a valid route path pattern.
func CheckPattern(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("pattern %q does not start with /", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "**" && i != len(segs)-1 {
			return fmt.Errorf("pattern %q: ** must be the last segment", p)
		}
		if strings.Contains(s, "*") && s != "*" && s != "**" {
			return fmt.Errorf("pattern %q: * must be a whole segment", p)
		}
	}
	return nil
}
