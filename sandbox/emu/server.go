package emu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// Server runs one emulator's handler on a listener.
type Server struct {
	srv  *fasthttp.Server
	ln   net.Listener
	mem  *fasthttputil.InmemoryListener // nil for TCP
	done chan error
	once sync.Once
	err  error
}

// Start serves h on addr ("127.0.0.1:0" picks a free port) and returns
// once the listener is open.
func Start(addr string, h fasthttp.RequestHandler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emu: listen %s: %w", addr, err)
	}
	return serve(ln, nil, h), nil
}

// StartInMemory serves h on an in-memory listener; reach it with
// [Server.Client]. Tests use it: no ports, no sockets.
func StartInMemory(h fasthttp.RequestHandler) *Server {
	mem := fasthttputil.NewInmemoryListener()
	return serve(mem, mem, h)
}

func serve(ln net.Listener, mem *fasthttputil.InmemoryListener, h fasthttp.RequestHandler) *Server {
	s := &Server{
		srv: &fasthttp.Server{
			Handler:               h,
			NoDefaultServerHeader: true,
			NoDefaultContentType:  true,
			// Emulators read multipart bodies themselves, when they want.
			DisablePreParseMultipartForm: true,
			// Media uploads: NetEase takes 15 MB as Base64, Youdu's
			// ciphertext is Base64 too.
			MaxRequestBodySize: 32 << 20,
			// Connection-level noise (clients that hang up, dropped-call
			// faults) is not worth a log line in a sandbox.
			Logger:       quiet{},
			ReadTimeout:  30 * time.Second,
			WriteTimeout: 30 * time.Second,
			IdleTimeout:  30 * time.Second,
		},
		ln:   ln,
		mem:  mem,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

// Addr is the listener's address: "127.0.0.1:43210", or "InmemoryListener"
// for an in-memory server.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is "http://" + Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Client returns a client that reaches this server whatever URL host a
// request names, and never retries (a dropped connection shows as an
// error, as it would to a vendor's client).
func (s *Server) Client() *fasthttp.Client {
	c := &fasthttp.Client{
		MaxIdemponentCallAttempts: 1,
		ReadTimeout:               time.Minute,
		WriteTimeout:              time.Minute,
	}
	if s.mem != nil {
		c.Dial = func(string) (net.Conn, error) { return s.mem.Dial() }
	} else {
		addr := s.Addr()
		c.Dial = func(string) (net.Conn, error) { return fasthttp.Dial(addr) }
	}
	return c
}

// Close stops accepting, waits for calls in flight and closes idle
// connections. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		// Calls in flight get at most MaxDelay (the longest injected
		// latency) and a margin to finish.
		ctx, cancel := context.WithTimeout(context.Background(), MaxDelay+10*time.Second)
		defer cancel()
		err := s.srv.ShutdownWithContext(ctx)
		// Shutdown does nothing when Serve has not registered the listener
		// yet; closing it here makes such a Serve return at once.
		_ = s.ln.Close()
		if serr := <-s.done; serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		if err != nil {
			s.err = fmt.Errorf("emu: close %s: %w", s.Addr(), err)
		}
	})
	return s.err
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
