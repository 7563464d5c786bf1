// Package easemob emulates the Easemob (环信) IM REST API for imrelay's
// sandbox: app tokens from POST /{org}/{app}/token, bearer authentication,
// the current send endpoints /{org}/{app}/messages/users|chatgroups|chatrooms
// (and /messages/chatgroups/users), and the legacy /{org}/{app}/messages.
// Answers, errors included, have the vendor's exact shapes. See README.md
// for what is emulated and which behaviours are assumptions.
package easemob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// Vendor is the name stamped on inbox entries.
const Vendor = "easemob"

// Demo credentials, used for every Config field left empty.
const (
	DemoOrg          = "imrelay"
	DemoApp          = "demo"
	DemoClientID     = "YXA6aW1yZWxheS1kZW1vLWNsaWVudA"
	DemoClientSecret = "YXA6aW1yZWxheS1kZW1vLXNlY3JldC1rZXk"
	DemoApplication  = "5b1c8e20-0d0a-11ef-9a3c-6d2f1e5a7b01"
)

// DefaultTTL is the token lifetime when a token request carries no ttl.
// The real value is a console setting; 60 days is what the vendor's own
// examples show (expires_in 5184000). [ASSUMPTION]
const DefaultTTL = 60 * 24 * time.Hour

// Limits of the current send endpoints (vendors.md §1.3, §1.7).
const (
	MaxUsers       = 600  // recipients per /messages/users call
	MaxGroups      = 3    // groups per /messages/chatgroups call
	MaxRooms       = 10   // rooms per /messages/chatrooms call
	MaxDirected    = 20   // users per /messages/chatgroups/users call
	MaxLegacy      = 600  // targets per legacy /messages call [ASSUMPTION for groups and rooms]
	MaxMessageSize = 5120 // bytes of body + ext
)

// Config configures an emulator. Empty strings take the demo values.
type Config struct {
	Org, App     string
	ClientID     string
	ClientSecret string
	// Application is the app UUID the vendor answers in "application".
	Application string
	// DefaultTTL is the token lifetime when ttl is absent, null or "";
	// 0 means the package DefaultTTL.
	DefaultTTL time.Duration
	// MaxTokens caps the tokens remembered (the oldest issued are
	// forgotten first); 0 means 100000.
	MaxTokens int

	// Emu configures the core: fault seed, clock, sleep, inbox size. Its
	// Vendor is set to "easemob". The clock (Emu.Now) also drives token
	// lifetimes.
	Emu emu.Config
}

// ErrConfig is returned by [New] for an unusable configuration.
var ErrConfig = errors.New("easemob: bad config")

// Emulator is one Easemob app.
type Emulator struct {
	core *emu.Core
	cfg  Config

	tokens *tokenStore
}

// New returns an emulator with the given credentials.
func New(cfg Config) (*Emulator, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Org, DemoOrg)
	def(&cfg.App, DemoApp)
	def(&cfg.ClientID, DemoClientID)
	def(&cfg.ClientSecret, DemoClientSecret)
	def(&cfg.Application, DemoApplication)
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = DefaultTTL
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 100000
	}
	for _, v := range []string{cfg.Org, cfg.App} {
		if strings.ContainsAny(v, "/#?% ") {
			return nil, fmt.Errorf("%w: org and app name must not contain '/', '#', '?', '%%' or spaces: %q", ErrConfig, v)
		}
	}
	cfg.Emu.Vendor = Vendor
	return &Emulator{core: emu.New(cfg.Emu), cfg: cfg, tokens: newTokenStore(cfg.MaxTokens)}, nil
}

// Core returns the emulator's inbox, faults and clock.
func (e *Emulator) Core() *emu.Core { return e.core }

// Info is what GET /_sandbox/info answers.
type Info struct {
	Vendor       string `json:"vendor"`
	Org          string `json:"org"`
	App          string `json:"app"`
	AppKey       string `json:"app_key"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Application  string `json:"application"`
	// BasePath is what follows the host in every API URL: "/org/app".
	BasePath string `json:"base_path"`
	// DefaultTTL is the token lifetime in seconds when ttl is absent.
	DefaultTTL int64 `json:"default_ttl"`
}

// Info returns the emulator's credentials.
func (e *Emulator) Info() Info {
	return Info{
		Vendor: Vendor, Org: e.cfg.Org, App: e.cfg.App, AppKey: e.cfg.Org + "#" + e.cfg.App,
		ClientID: e.cfg.ClientID, ClientSecret: e.cfg.ClientSecret, Application: e.cfg.Application,
		BasePath: "/" + e.cfg.Org + "/" + e.cfg.App, DefaultTTL: int64(e.cfg.DefaultTTL / time.Second),
	}
}

// Handler returns the emulator's HTTP handler: the vendor API with faults
// applied, and the sandbox admin surface under emu.Prefix.
func (e *Emulator) Handler() fasthttp.RequestHandler {
	return e.core.Handler(e.serve, emu.Answers{
		Internal: func(ctx *fasthttp.RequestCtx) { e.fail(ctx, errInternal) },
		Limited:  func(ctx *fasthttp.RequestCtx) { e.fail(ctx, errReachLimit) },
	}, func() any { return e.Info() })
}

// serve routes one vendor call.
func (e *Emulator) serve(ctx *fasthttp.RequestCtx) {
	segs := strings.Split(strings.Trim(string(ctx.Path()), "/"), "/")
	if len(segs) < 3 {
		e.fail(ctx, errNotFound)
		return
	}
	org, app, rest := segs[0], segs[1], strings.Join(segs[2:], "/")
	if org != e.cfg.Org || app != e.cfg.App {
		e.fail(ctx, errAppNotFound(org, app, rest))
		return
	}
	if rest == "chatfiles" || strings.HasPrefix(rest, "chatfiles/") {
		e.authed(func(ctx *fasthttp.RequestCtx) { e.chatfiles(ctx, rest) })(ctx)
		return
	}
	var handle func(*fasthttp.RequestCtx)
	switch rest {
	case "token":
		handle = e.token
	case "messages":
		handle = e.authed(e.legacy)
	case "messages/users":
		handle = e.authed(e.current(kindUsers))
	case "messages/chatgroups":
		handle = e.authed(e.current(kindGroups))
	case "messages/chatrooms":
		handle = e.authed(e.current(kindRooms))
	case "messages/chatgroups/users":
		handle = e.authed(e.current(kindDirected))
	default:
		e.fail(ctx, errNotFound)
		return
	}
	if !ctx.IsPost() {
		e.fail(ctx, errMethod)
		return
	}
	if !jsonContent(ctx) {
		e.fail(ctx, errMediaType)
		return
	}
	handle(ctx)
}

// jsonContent refuses media types that cannot carry a JSON body
// (multipart, XML), which the vendor's servers answer with 415. It
// tolerates a missing Content-Type and the form type that curl -d and many
// HTTP clients send by default. [ASSUMPTION]
func jsonContent(ctx *fasthttp.RequestCtx) bool {
	ct := strings.ToLower(string(ctx.Request.Header.ContentType()))
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return !strings.HasPrefix(mt, "multipart/") && !strings.HasSuffix(mt, "/xml") && !strings.HasSuffix(mt, "+xml")
}
