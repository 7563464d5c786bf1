// Package sandbox starts imrelay's vendor emulators in-process: Easemob,
// NetEase Yunxin, Youdu and the two in-house relays getsender and opapp,
// each on its own loopback listener with fixed demo credentials. The relay's
// tests, its embedded default and the `imrelay sandbox` command use it.
//
// Each emulator lives in its own package (sandbox/easemob, …) and shares
// the core of package emu: an inbox of accepted messages and run-time
// faults, both reachable over HTTP under /_sandbox/ on every emulator.
package sandbox

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/emu"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/netease"
	"github.com/imrelay/imrelay/sandbox/opapp"
	"github.com/imrelay/imrelay/sandbox/youdu"
)

// Vendor names, in the order Start starts them.
const (
	Easemob   = "easemob"
	NetEase   = "netease"
	Youdu     = "youdu"
	GetSender = "getsender"
	OpApp     = "opapp"
)

// Names lists the vendors Start runs, in order.
var Names = []string{Easemob, NetEase, Youdu, GetSender, OpApp}

// NetEase and Youdu demo credentials (those emulators have no defaults;
// the others define theirs in their packages).
const (
	DemoNetEaseAppKey    = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	DemoNetEaseAppSecret = "c3b5a4e2f1d0"

	DemoYouduBuin = 666666
	DemoYouduApp  = "yd4D2A9C51E0B7468F9A3E2C1D5B6F7081"
	DemoYouduKey  = "FT0wTtS8inmfdVTDa/dWxNJE6i46G/TAPqtMq7qHXXo="
	// The built-in system-message app, for sysMsg messages.
	DemoYouduSysMsgKey = "eDVCPtfXd56mXpds9W1SEpf/iUUdxQOWRmNiFn0UyFU="
)

// ErrConfig is returned by [Start] for an unusable configuration.
var ErrConfig = errors.New("sandbox: bad config")

// Config configures [Start]. The zero value starts every vendor on a
// random loopback port with seed 0.
type Config struct {
	// Host is the listen host; empty means 127.0.0.1.
	Host string
	// Ports fixes a vendor's port by name; absent or 0 picks a free one.
	Ports map[string]int
	// Seed seeds every emulator's faults (the same for all).
	Seed int64
	// InMemory serves every vendor on an in-memory listener instead of
	// TCP: reach them with Vendor.Server.Client(). Addresses are then
	// placeholders.
	InMemory bool
	// Now and Sleep, when set, replace the clock and the latency sleep of
	// every emulator (tests).
	Now   func() time.Time
	Sleep func(time.Duration)
}

// Vendor is one running emulator.
type Vendor struct {
	Name string
	// Addr is host:port of its listener; URL is "http://" + Addr.
	Addr, URL string
	// Info is the vendor's credentials, as GET /_sandbox/info answers.
	Info any
	// Core gives direct access to the inbox and the faults.
	Core *emu.Core
	// Server is the running server; its Client reaches it, in memory too.
	Server *emu.Server
	// Example is one curl command line that the vendor accepts.
	Example string
}

// Sandbox is a set of running emulators.
type Sandbox struct {
	Vendors []*Vendor
}

// emulator is what every vendor package offers.
type emulator interface {
	Core() *emu.Core
	Handler() fasthttp.RequestHandler
}

// Start runs every vendor. On error, those already started are stopped.
func Start(cfg Config) (*Sandbox, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	for name, p := range cfg.Ports {
		if !known(name) {
			return nil, fmt.Errorf("%w: unknown vendor %q in ports (have %v)", ErrConfig, name, Names)
		}
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("%w: port %d for %s out of range", ErrConfig, p, name)
		}
	}
	ec := emu.Config{Seed: cfg.Seed, Now: cfg.Now, Sleep: cfg.Sleep}
	sb := &Sandbox{}
	for _, name := range Names {
		em, info, err := build(name, ec)
		if err != nil {
			_ = sb.Stop()
			return nil, fmt.Errorf("sandbox: %s: %w", name, err)
		}
		var srv *emu.Server
		if cfg.InMemory {
			srv = emu.StartInMemory(em.Handler())
		} else {
			addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Ports[name]))
			if srv, err = emu.Start(addr, em.Handler()); err != nil {
				_ = sb.Stop()
				return nil, fmt.Errorf("sandbox: %s: %w", name, err)
			}
		}
		v := &Vendor{Name: name, Addr: srv.Addr(), URL: srv.URL(), Info: info, Core: em.Core(), Server: srv}
		now := time.Now
		if cfg.Now != nil {
			now = cfg.Now
		}
		v.Example = example(name, v.URL, now())
		sb.Vendors = append(sb.Vendors, v)
	}
	return sb, nil
}

func known(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// build makes one vendor's emulator with its demo credentials.
func build(name string, ec emu.Config) (emulator, any, error) {
	switch name {
	case Easemob:
		e, err := easemob.New(easemob.Config{Emu: ec})
		if err != nil {
			return nil, nil, err
		}
		return e, e.Info(), nil
	case NetEase:
		e, err := netease.New(netease.Config{AppKey: DemoNetEaseAppKey, AppSecret: DemoNetEaseAppSecret, Emu: ec})
		if err != nil {
			return nil, nil, err
		}
		return e, e.Info(), nil
	case Youdu:
		e, err := youdu.New(youdu.Config{Buin: DemoYouduBuin, Apps: []youdu.App{
			{ID: DemoYouduApp, EncodingAESKey: DemoYouduKey},
			{ID: youdu.AppSysMsg, EncodingAESKey: DemoYouduSysMsgKey},
		}, Emu: ec})
		if err != nil {
			return nil, nil, err
		}
		return e, e.Info(), nil
	case GetSender:
		e, err := getsender.New(getsender.Config{Emu: ec})
		if err != nil {
			return nil, nil, err
		}
		return e, e.Info(), nil
	case OpApp:
		e, err := opapp.New(opapp.Config{Emu: ec})
		if err != nil {
			return nil, nil, err
		}
		return e, e.Info(), nil
	}
	return nil, nil, fmt.Errorf("%w: unknown vendor %q", ErrConfig, name)
}

// Vendor returns the running vendor called name, or nil.
func (s *Sandbox) Vendor(name string) *Vendor {
	for _, v := range s.Vendors {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Stop stops every vendor and waits for calls in flight.
func (s *Sandbox) Stop() error {
	var errs []error
	for _, v := range s.Vendors {
		if err := v.Server.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// example returns one curl command line the vendor accepts at base (for
// Youdu, during DefaultTokenSkew after now: it carries an encrypted
// timestamp).
func example(name, base string, now time.Time) string {
	switch name {
	case Easemob:
		return fmt.Sprintf(`curl -s -X POST %s/%s/%s/token -H 'Content-Type: application/json' `+
			`-d '{"grant_type":"client_credentials","client_id":"%s","client_secret":"%s"}'`,
			base, easemob.DemoOrg, easemob.DemoApp, easemob.DemoClientID, easemob.DemoClientSecret)
	case NetEase:
		return fmt.Sprintf(`T=$(date +%%s); N=$RANDOM$RANDOM; curl -s -X POST %s/nimserver/msg/sendMsg.action `+
			`-H 'AppKey: %s' -H "Nonce: $N" -H "CurTime: $T" `+
			`-H "CheckSum: $(printf '%%s' "%s$N$T" | sha1sum | cut -d' ' -f1)" `+
			`--data-urlencode from=alice -d ope=0 --data-urlencode to=bob -d type=0 --data-urlencode 'body={"msg":"hello"}'`,
			base, DemoNetEaseAppKey, DemoNetEaseAppSecret)
	case Youdu:
		c, err := auth.NewYouduCipher(DemoYouduKey)
		if err != nil {
			break
		}
		enc, err := c.Encrypt([]byte(strconv.FormatInt(now.Unix(), 10)), DemoYouduApp)
		if err != nil {
			break
		}
		return fmt.Sprintf(`curl -s -X POST %s/cgi/gettoken -H 'Content-Type: application/json' `+
			`-d '{"buin":%d,"appId":"%s","encrypt":"%s"}'   # valid for %s after start`,
			base, DemoYouduBuin, DemoYouduApp, enc, youdu.DefaultTokenSkew)
	case GetSender:
		return fmt.Sprintf(`curl -s -X POST '%s%s?apiVersion=01&client=%s&token=%s&sign=any' `+
			`-H 'Content-Type: application/json' `+
			`-d '{"messageType":1,"from":"op1","userId":"u1","isDisturb":false,"messageInfo":{"msg":"hello"}}'`,
			base, getsender.Path, getsender.DemoClient, getsender.DemoToken)
	case OpApp:
		return fmt.Sprintf(`curl -s -X POST '%s%s?apiVersion=01&client=%s&version=1.15&channel=%s&sign=any' `+
			`-H 'Content-Type: application/json' `+
			`-d '{"reqUrl":"/hxSend/send2EasemobMessage","messages":[{"msgType":"txt","msgBody":`+
			`{"fromUser":"op1","toUser":"u1","msgType":"txt","msg":"hello","targetType":"users"}}]}'`,
			base, opapp.Path, opapp.DemoClient, opapp.DemoChannel)
	}
	return fmt.Sprintf("curl -s %s%sinfo", base, emu.Prefix)
}
