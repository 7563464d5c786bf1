package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/imrelay/imrelay/plugins"
	"github.com/imrelay/imrelay/proxy"
	"github.com/imrelay/imrelay/proxy/config"
	"github.com/imrelay/imrelay/sandbox"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/netease"
)

// The credentials of the benchmark's clients (what they send the relay
// and the peers) and the sender the relay puts on NetEase messages.
const (
	benchClient  = "benchclient0001"
	benchToken   = "benchtoken00000000000001"
	benchNeKey   = "benchappkey0000000000000000000001"
	benchNeSec   = "benchsecret01"
	benchYdBuin  = 700001
	benchYdApp   = "ydbenchclients"
	benchYdKey   = "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ="
	benchSender  = "imrelaybench"
	upstreamKey  = sandbox.DemoNetEaseAppKey
	upstreamSecr = sandbox.DemoNetEaseAppSecret
)

// ready is the one JSON line a server role prints on stdout once it
// accepts connections.
type ready struct {
	URL        string `json:"url"`
	YouduToken string `json:"youdu_token,omitempty"`
	StartupMS  int64  `json:"startup_ms,omitempty"`
}

func announce(r ready) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// untilSignal returns a context ended by SIGTERM or SIGINT.
func untilSignal() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runUpstream serves the NetEase emulator: the vendor every target sends to.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := netease.New(netease.Config{
		AppKey: upstreamKey, AppSecret: upstreamSecr,
		// A small inbox: the emulator keeps every accepted message, and a
		// 10 KB sweep would otherwise grow it to 100 MB.
		Emu:                 emu.Config{Seed: 1, InboxSize: 64},
		BatchCallsPerMinute: -1,
	})
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	srv, err := emu.Start("127.0.0.1:0", e.Handler())
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	defer srv.Close()
	ctx, stop := untilSignal()
	defer stop()
	announce(ready{URL: srv.URL()})
	<-ctx.Done()
	return nil
}

// passthroughPath is the route pattern of the relay's pass-through route.
const passthroughPath = "/nimserver/im/v2/conversations/*/messages"

// relayConfig routes the four client dialects the benchmark uses to the
// NetEase upstream through their codecs, and NetEase once more through a
// pass-through route (no codec at all).
func relayConfig(upstream, cacheDir string, pool int) *config.Config {
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Providers: map[string]*config.Provider{config.Netease: {
			Dialect: config.Netease, BaseURL: upstream,
			Credentials: config.Credentials{AppKey: upstreamKey, AppSecret: config.SecretValue(upstreamSecr)},
			Options:     map[string]any{"sender": benchSender},
			MaxConns:    256,
		}},
		Limits: config.Limits{RequestTimeout: 10 * time.Second},
	}
	cfg.Plugins.CacheDir = cacheDir
	cfg.Plugins.PoolSize = pool
	client := []config.Client{{ID: benchClient, Token: config.SecretValue(benchToken)}}
	for _, d := range []string{config.Getsender, config.Opapp, config.Netease, config.Youdu} {
		r := config.Route{Name: d, Dialect: d, Target: config.Netease}
		switch d {
		case config.Getsender, config.Opapp:
			r.Auth.Clients = client
		case config.Netease:
			r.Auth.AppKey, r.Auth.AppSecret = benchNeKey, config.SecretValue(benchNeSec)
			// The codec route answers /im/v2/…; the pass-through route
			// below the same calls spelled /nimserver/im/v2/….
			r.Paths = []string{"/im/v2/conversations/*/messages"}
			pt := r
			pt.Name, pt.Passthrough = "netease-passthrough", true
			pt.Paths = []string{passthroughPath}
			cfg.Routes = append(cfg.Routes, pt)
		case config.Youdu:
			r.Auth.Buin, r.Auth.AppID, r.Auth.AESKey = benchYdBuin, benchYdApp, config.SecretValue(benchYdKey)
			r.Auth.IssuedTokenTTL = 24 * time.Hour
		}
		cfg.Routes = append(cfg.Routes, r)
	}
	return cfg
}

// runRelay serves imrelay in front of the upstream.
func runRelay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	up := fs.String("upstream", "", "NetEase upstream `URL`")
	cache := fs.String("cache", "", "compilation cache `dir` (empty: none)")
	pool := fs.Int("pool", 0, "instances per plugin (plugins.pool_size; 0: the relay's default)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the whole life of the relay to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg := relayConfig(*up, *cache, *pool)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := untilSignal()
	defer stop()
	s, err := proxy.New(ctx, cfg, proxy.Options{Logger: logger, Plugin: func(name string) ([]byte, error) {
		b, ok := plugins.Get(name)
		if !ok {
			return nil, fmt.Errorf("no built-in plugin %q", name)
		}
		return b, nil
	}})
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	addrs, err := s.Listen()
	if err != nil {
		_ = s.Close(context.Background())
		return fmt.Errorf("relay: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	tok, err := s.Issuer(config.Youdu).Issue()
	if err != nil {
		return fmt.Errorf("relay: youdu token: %w", err)
	}
	announce(ready{URL: "http://" + addrs[0].String(), YouduToken: tok, StartupMS: time.Since(start).Milliseconds()})
	select {
	case err := <-served:
		return fmt.Errorf("relay: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(sctx)
	return s.Close(sctx)
}

// runGoProxy serves the hand-written peer: net/http's ReverseProxy with
// the getsender → NetEase translation compiled natively.
func runGoProxy(args []string) error {
	fs := flag.NewFlagSet("goproxy", flag.ContinueOnError)
	up := fs.String("upstream", "", "NetEase upstream `URL`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := newGoPeer(*up)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("goproxy: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ctx, stop := untilSignal()
	defer stop()
	announce(ready{URL: "http://" + ln.Addr().String()})
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("goproxy: %w", err)
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
