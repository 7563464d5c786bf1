package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imrelay/imrelay/plugins"
	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/admin"
	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sandbox"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/netease"
	"github.com/imrelay/imrelay/sandbox/opapp"
	"github.com/imrelay/imrelay/sandbox/youdu"
)

// runServe implements `imrelay serve`: with -config it runs the relay the
// file describes; without, the embedded default — the vendor sandbox in
// process, every dialect routed to one target, and curl lines to paste.
// It serves until SIGINT or SIGTERM, then shuts down gracefully; SIGHUP
// reloads the configuration file and its plugins.
func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr, nil)
}

// serve is runServe until ctx is done. ready, when not nil, receives the
// relay's address once it listens (tests).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("imrelay serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "relay configuration `file` (YAML, see docs/config.md); without it, the embedded default")
	target := fs.String("target", config.Netease, "embedded default: the `dialect` every message is sent to ("+strings.Join(config.Dialects, ", ")+")")
	listen := fs.String("listen", "127.0.0.1:8080", "embedded default: the relay's `address` (loopback only)")
	verbose := fs.Bool("v", false, "log at debug level")
	adminAddr := fs.String("admin", "", "the admin listener's `address` (metrics, health, admin API); overrides admin.addr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imrelay serve [-config FILE] [-target DIALECT] [-listen ADDR]\n\n"+
			"Runs the relay until interrupted. Without -config it starts the vendor\n"+
			"sandbox in-process, routes the five client dialects to -target, and\n"+
			"prints curl commands to try.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imrelay serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var (
		cfg *config.Config
		dm  *demo
		err error
	)
	if *file != "" {
		if cfg, err = config.Load(*file); err != nil {
			fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
			return 1
		}
	} else {
		if dm, err = startDemo(*target, *listen); err != nil {
			fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
			return 1
		}
		defer dm.sb.Stop()
		cfg = dm.cfg
	}
	if cfg.Plugins.CacheDir == "" {
		cfg.Plugins.CacheDir = wasmhost.DefaultCacheDir()
	}
	if *adminAddr != "" {
		host, _, err := net.SplitHostPort(*adminAddr)
		if err != nil || (!config.IsLoopback(host) && !cfg.Admin.AllowRemote) {
			fmt.Fprintf(stderr, "imrelay serve: -admin %q: want a loopback host:port such as 127.0.0.1:9090 (or admin.allow_remote in the configuration)\n", *adminAddr)
			return 2
		}
		cfg.Admin.Addr = *adminAddr
	}

	// load reads the configuration file again, for a reload.
	var reload func(ctx context.Context) error
	var s *proxy.Server
	if *file != "" {
		reload = func(ctx context.Context) error {
			return s.ReloadFrom(ctx, func() (*config.Config, error) {
				c, err := config.Load(*file)
				if err != nil {
					return nil, err
				}
				if c.Plugins.CacheDir == "" {
					c.Plugins.CacheDir = cfg.Plugins.CacheDir
				}
				if *adminAddr != "" {
					c.Admin.Addr = *adminAddr
				}
				return c, nil
			})
		}
	}

	// The admin listener starts first, so /readyz says "starting" while
	// the plugins compile.
	var adm *admin.Handler
	if cfg.Admin.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Admin.Addr)
		if err != nil {
			fmt.Fprintf(stderr, "imrelay serve: admin listener: %v\n", err)
			return 1
		}
		adm = admin.New(admin.Options{Reload: reload, ReloadTimeout: cfg.Limits.RequestTimeout + cfg.ShutdownTimeout, Logger: logger})
		hs := &http.Server{Handler: adm, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		logger.Info("admin listening", "addr", ln.Addr().String())
	}

	start := time.Now()
	s, err = proxy.New(ctx, cfg, proxy.Options{Plugin: builtinPlugin, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
		return 1
	}
	if adm != nil {
		adm.SetRelay(s)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	addrs, err := s.Listen()
	if err != nil {
		_ = s.Close(context.Background())
		fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	var names []string
	for _, a := range addrs {
		names = append(names, a.String())
	}
	logger.Info("imrelay ready", "listen", strings.Join(names, ","), "routes", len(cfg.Routes), "startup", time.Since(start).Round(time.Millisecond))
	if dm != nil {
		dm.print(stdout, "http://"+names[0], s)
	}
	if ready != nil {
		ready <- names[0]
	}

	code := 0
	for wait := true; wait; {
		select {
		case <-hup:
			if reload == nil {
				logger.Warn("SIGHUP ignored: the embedded default has no configuration file to reload")
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, cfg.Limits.RequestTimeout+cfg.ShutdownTimeout)
			t0 := time.Now()
			err := reload(rctx)
			if err != nil {
				logger.Error("reload failed; the previous configuration stays in effect", "via", "SIGHUP", "err", err)
			} else {
				logger.Info("reloaded", "via", "SIGHUP", "took", time.Since(t0).Round(time.Millisecond))
			}
			cancel()
			if hupDone != nil {
				hupDone(err)
			}
			continue
		case err := <-served:
			if err != nil {
				fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
				code = 1
			}
		case <-ctx.Done():
			logger.Info("shutting down", "deadline", cfg.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			if err := s.Shutdown(sctx); err != nil {
				fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
				code = 1
			}
			cancel()
			<-served
		}
		wait = false
	}
	cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "imrelay serve: %v\n", err)
		code = 1
	}
	return code
}

// hupDone, when set (tests), is told the result of each SIGHUP reload.
var hupDone func(error)

// builtinPlugin returns an embedded plugin's bytes.
func builtinPlugin(name string) ([]byte, error) {
	b, ok := plugins.Get(name)
	if !ok {
		return nil, fmt.Errorf("no built-in plugin %q", name)
	}
	return b, nil
}

// demo is the embedded default: the sandbox, and the credentials the
// relay's own clients use, generated at start.
type demo struct {
	sb     *sandbox.Sandbox
	cfg    *config.Config
	target string

	getsender, opapp          config.Client
	neKey, neSecret           string
	emOrg, emApp, emID, emSec string
	ydBuin                    int64
	ydApp, ydKey              string
}

// The embedded default's own names for the relay's Easemob and Youdu
// clients (not the sandbox vendors' credentials).
const (
	demoEasemobOrg = "relay"
	demoEasemobApp = "demo"
	demoYouduBuin  = 100001
	demoYouduApp   = "ydrelaydemo"
	demoSender     = "imrelay-demo"
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// startDemo starts the sandbox and builds the embedded configuration.
func startDemo(target, listen string) (*demo, error) {
	if !config.IsDialect(target) {
		return nil, fmt.Errorf("-target %q: want one of %s", target, strings.Join(config.Dialects, ", "))
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || !config.IsLoopback(host) {
		return nil, fmt.Errorf("-listen %q: the embedded default listens on a loopback address only, such as 127.0.0.1:8080", listen)
	}
	sb, err := sandbox.Start(sandbox.Config{Seed: 1})
	if err != nil {
		return nil, err
	}
	d := &demo{
		sb: sb, target: target,
		getsender: config.Client{ID: randomHex(16), Token: config.SecretValue(randomHex(16))},
		opapp:     config.Client{ID: randomHex(16), Token: config.SecretValue(randomHex(16))},
		neKey:     randomHex(16), neSecret: randomHex(12),
		emOrg: demoEasemobOrg, emApp: demoEasemobApp, emID: "YXA6" + randomHex(12), emSec: "YXA6" + randomHex(16),
		ydBuin: demoYouduBuin, ydApp: demoYouduApp,
	}
	if d.ydKey, err = auth.NewEncodingAESKey(nil); err != nil {
		_ = sb.Stop()
		return nil, err
	}
	providers := map[string]*config.Provider{}
	for _, v := range sb.Vendors {
		if p := demoProvider(v); p != nil {
			providers[v.Name] = p
		}
	}
	if providers[target] == nil {
		_ = sb.Stop()
		return nil, fmt.Errorf("-target %s: the sandbox has no %s emulator running", target, target)
	}
	d.cfg = &config.Config{
		Listeners: []config.Listener{{Addr: listen}},
		Providers: providers,
		Limits:    config.Limits{RequestTimeout: 10 * time.Second},
		Media:     demoMedia(sb),
	}
	for _, dialect := range config.Dialects {
		r := config.Route{Name: dialect, Dialect: dialect, Target: target}
		switch dialect {
		case config.Getsender:
			r.Auth.Clients = []config.Client{d.getsender}
		case config.Opapp:
			r.Auth.Clients = []config.Client{d.opapp}
		case config.Netease:
			r.Auth.AppKey, r.Auth.AppSecret = d.neKey, config.SecretValue(d.neSecret)
		case config.Easemob:
			r.Auth.Org, r.Auth.App, r.Auth.ClientID, r.Auth.ClientSecret = d.emOrg, d.emApp, d.emID, config.SecretValue(d.emSec)
		case config.Youdu:
			r.Auth.Buin, r.Auth.AppID, r.Auth.AESKey = d.ydBuin, d.ydApp, config.SecretValue(d.ydKey)
			r.Auth.IssuedTokenTTL = 24 * time.Hour
		}
		d.cfg.Routes = append(d.cfg.Routes, r)
	}
	if err := d.cfg.Validate(); err != nil {
		_ = sb.Stop()
		return nil, fmt.Errorf("embedded default: %w", err)
	}
	return d, nil
}

// demoProvider turns a running sandbox vendor into a provider with its
// demo credentials.
func demoProvider(v *sandbox.Vendor) *config.Provider {
	p := &config.Provider{Dialect: v.Name, BaseURL: v.URL, Options: map[string]any{"sender": demoSender}}
	switch info := v.Info.(type) {
	case easemob.Info:
		p.Credentials = config.Credentials{Org: info.Org, App: info.App, ClientID: info.ClientID, ClientSecret: config.SecretValue(info.ClientSecret)}
	case netease.Info:
		p.Credentials = config.Credentials{AppKey: info.AppKey, AppSecret: config.SecretValue(info.AppSecret)}
	case youdu.Info:
		if len(info.Apps) == 0 {
			return nil
		}
		p.Credentials = config.Credentials{Buin: info.Buin, AppID: info.Apps[0].ID, AESKey: config.SecretValue(info.Apps[0].EncodingAESKey)}
	case getsender.Info:
		id, tok := firstClient(info.Clients)
		p.Credentials = config.Credentials{Client: id, Token: config.SecretValue(tok), Query: map[string]string{"apiVersion": "01"}}
	case opapp.Info:
		id, tok := firstClient(info.Clients)
		p.Credentials = config.Credentials{Client: id, Token: config.SecretValue(tok), Query: map[string]string{"apiVersion": "01", "version": "1.15"}}
	default:
		return nil
	}
	return p
}

func firstClient(m map[string]string) (string, string) {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return "", ""
	}
	return ids[0], m[ids[0]]
}

// print writes the curl lines a new user pastes, one per client dialect,
// and where to see the result.
func (d *demo) print(w io.Writer, base string, s *proxy.Server) {
	tv := d.sb.Vendor(d.target)
	fmt.Fprintf(w, "imrelay is relaying every client dialect to the %s sandbox (%s). Ctrl-C stops.\n", d.target, tv.URL)
	fmt.Fprintf(w, "Messages that arrive there:   curl -s %s%sinbox\n", tv.URL, emu.Prefix)
	fmt.Fprintf(w, "The credentials below were made at start; they last as long as this process.\n")
	for _, dialect := range config.Dialects {
		fmt.Fprintf(w, "\n# %s client\n", dialect)
		for _, line := range d.examples(dialect, base, s) {
			fmt.Fprintln(w, line)
		}
	}
}

// examples returns the commands for one client dialect.
func (d *demo) examples(dialect, base string, s *proxy.Server) []string {
	switch dialect {
	case config.Getsender:
		body := `{"messageType":1,"from":"alice","userId":"bob","isDisturb":false,"messageInfo":{"msg":"hello from a getsender client"}}`
		return []string{fmt.Sprintf(`curl -s -X POST '%s/sender/v1/handleBusinessMessage?apiVersion=01&client=%s&token=%s&sign=any' -H 'Content-Type: application/json' -d '%s'`,
			base, d.getsender.ID, d.getsender.Token.Value(), body)}
	case config.Opapp:
		body := `{"reqUrl":"/hxSend/send2EasemobMessage","messages":[{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"bob","msgType":"txt","msg":"hello from an opapp client","targetType":"users"}}]}`
		return []string{fmt.Sprintf(`curl -s -X POST '%s/opapp/send2EasemobMessage?apiVersion=01&client=%s&version=1.15&channel=%s&sign=any' -H 'Content-Type: application/json' -d '%s'`,
			base, d.opapp.ID, d.opapp.Token.Value(), body)}
	case config.Netease:
		body := `{"message":{"message_type":0,"text":"hello from a netease client"}}`
		return []string{fmt.Sprintf(`T=$(date +%%s); N=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n'); `+
			`S=$(printf '%%s' "%s$N$T" | sha1sum | cut -d' ' -f1); `+
			`curl -s -X POST '%s/im/v2/conversations/alice%%7C1%%7Cbob/messages' -H 'Content-Type: application/json' `+
			`-H 'AppKey: %s' -H "Nonce: $N" -H "CurTime: $T" -H "CheckSum: $S" -d '%s'`,
			d.neSecret, base, d.neKey, body)}
	case config.Easemob:
		tokenBody, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": d.emID, "client_secret": d.emSec})
		body := `{"from":"alice","to":["bob"],"type":"txt","body":{"msg":"hello from an easemob client"}}`
		return []string{
			"# paste both lines into the same shell: the first asks the relay for a token",
			fmt.Sprintf(`TOKEN=$(curl -s -X POST '%s/%s/%s/token' -H 'Content-Type: application/json' -d '%s' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
				base, d.emOrg, d.emApp, tokenBody),
			fmt.Sprintf(`curl -s -X POST '%s/%s/%s/messages/users' -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -d '%s'`,
				base, d.emOrg, d.emApp, body),
		}
	case config.Youdu:
		// Youdu bodies are AES envelopes, which a shell cannot make
		// easily: the token and the envelope are made here, ready to use.
		tok, err := s.Issuer(config.Youdu).Issue()
		c, cerr := auth.NewYouduCipher(d.ydKey)
		if err != nil || cerr != nil {
			return []string{"# (cannot prepare the Youdu example)"}
		}
		msg := `{"toUser":"bob","msgType":"text","text":{"content":"hello from a youdu client"}}`
		enc, err := c.Encrypt([]byte(msg), d.ydApp)
		if err != nil {
			return []string{"# (cannot prepare the Youdu example)"}
		}
		env, _ := json.Marshal(map[string]any{"buin": d.ydBuin, "appId": d.ydApp, "encrypt": enc})
		return []string{
			"# the body is the AES envelope of " + msg,
			fmt.Sprintf(`# (buin %s, appId %s, EncodingAESKey %s; the accessToken below lasts 24 h, /cgi/gettoken issues more)`,
				strconv.FormatInt(d.ydBuin, 10), d.ydApp, d.ydKey),
			fmt.Sprintf(`curl -s -X POST '%s/cgi/msg/send?accessToken=%s' -H 'Content-Type: application/json' -d '%s'`, base, tok, env),
		}
	}
	return nil
}

// demoMedia lets the media bridge fetch from the in-process sandbox only:
// each emulator's own loopback address and port, nothing else.
func demoMedia(sb *sandbox.Sandbox) config.Media {
	var m config.Media
	for _, v := range sb.Vendors {
		m.AllowHosts = append(m.AllowHosts, v.Addr)
		m.AllowPrivate = append(m.AllowPrivate, v.Addr)
	}
	return m
}
