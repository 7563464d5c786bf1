package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
)

// options are the flags of `bench run`.
type options struct {
	duration, warmup time.Duration
	conns, pool      int
	out              string
	smoke, nginx     bool
	traefik          bool
	sweeps, profile  bool
}

// server is one running target process.
type server struct {
	name  string
	cmd   *exec.Cmd
	ready ready
	addr  string // host:port
	dir   string // scratch folder to remove, if any
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits.
func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// spawn starts this binary in a server role and waits for its ready line.
func spawn(name string, args ...string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case l, ok := <-line:
		if !ok {
			s.stop()
			return nil, fmt.Errorf("bench: %s exited before it was ready", name)
		}
		if err := json.Unmarshal([]byte(l), &s.ready); err != nil {
			s.stop()
			return nil, fmt.Errorf("bench: %s ready line %q: %w", name, l, err)
		}
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("bench: %s not ready after 60 s", name)
	}
	s.addr = strings.TrimPrefix(s.ready.URL, "http://")
	return s, nil
}

// startNginx runs the nginx + njs peer on a free loopback port.
func startNginx(upstream string) (*server, error) {
	dir, err := os.MkdirTemp("", "imrelay-bench-nginx-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd, err := nginxCommand(dir, addr, upstream)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start nginx: %w", err)
	}
	s := &server{name: "nginx", cmd: cmd, addr: addr, dir: dir, ready: ready{URL: "http://" + addr}}
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	s.stop()
	return nil, fmt.Errorf("bench: nginx did not listen on %s: %s", addr, log)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// request is what one scenario sends.
type request struct {
	uri     string
	headers map[string]string
	body    []byte
	// signer, when set, signs each request NetEase-style with this key
	// and secret.
	signKey, signSecret string
	ok                  func(*fasthttp.Response) bool
}

func codeIs200(r *fasthttp.Response) bool {
	return r.StatusCode() == 200 && gjson.GetBytes(r.Body(), "code").Int() == 200
}

func youduOK(r *fasthttp.Response) bool {
	return r.StatusCode() == 200 && gjson.GetBytes(r.Body(), "errcode").Int() == 0
}

// text of about n bytes, JSON-safe. Up to 4 KB it is ASCII; beyond, it
// is Chinese (3 bytes a character in UTF-8), because NetEase caps a text
// at 5000 characters and a 10 KB body must still be a valid message.
func text(n int) string {
	if n > 4096 {
		const word = "你好世界" // 12 bytes
		return strings.Repeat(word, n/len(word)+1)[:n/len(word)*len(word)]
	}
	const word = "imrelay load "
	return strings.Repeat(word, n/len(word)+1)[:max(n, 1)]
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// textSize is the text length that makes a getsender body of about size
// bytes.
func textSize(size int) int { return max(size-95, 5) }

// neteaseRequest is a NetEase v2 text message signed with key and secret.
func neteaseRequest(key, secret string, size int) request {
	return request{
		uri:     "/im/v2/conversations/alice%7C1%7Cbob/messages",
		headers: map[string]string{"Content-Type": "application/json;charset=UTF-8"},
		body:    []byte(`{"message":{"message_type":0,"text":` + jsonString(text(textSize(size))) + `}}`),
		signKey: key, signSecret: secret, ok: codeIs200,
	}
}

func getsenderRequest(size int) request {
	return request{
		uri:     "/sender/v1/handleBusinessMessage?apiVersion=01&client=" + benchClient + "&token=" + benchToken + "&sign=any",
		headers: map[string]string{"Content-Type": "application/json"},
		body:    []byte(`{"messageType":1,"from":"alice","userId":"bob","isDisturb":false,"messageInfo":{"msg":` + jsonString(text(textSize(size))) + `}}`),
		ok:      codeIs200,
	}
}

func opappRequest(batch int) request {
	var b strings.Builder
	b.WriteString(`{"reqUrl":"/hxSend/send2EasemobMessage","messages":[`)
	for i := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"msgType":"txt","msgBody":{"fromUser":"alice","toUser":"u%d","msgType":"txt","msg":"hello from opapp %d","targetType":"users"},"fileUrl":""}`, i, i)
	}
	b.WriteString(`]}`)
	return request{
		uri:     "/opapp/send2EasemobMessage?apiVersion=01&client=" + benchClient + "&version=1.15&channel=" + benchToken + "&sign=any",
		headers: map[string]string{"Content-Type": "application/json"},
		body:    []byte(b.String()),
		ok:      codeIs200,
	}
}

func youduRequest(token string) (request, error) {
	c, err := auth.NewYouduCipher(benchYdKey)
	if err != nil {
		return request{}, fmt.Errorf("bench: youdu: %w", err)
	}
	enc, err := c.Encrypt([]byte(`{"toUser":"bob","msgType":"text","text":{"content":"hello from a youdu client"}}`), benchYdApp)
	if err != nil {
		return request{}, fmt.Errorf("bench: youdu: %w", err)
	}
	env, _ := json.Marshal(map[string]any{"buin": benchYdBuin, "appId": benchYdApp, "encrypt": enc})
	return request{
		uri:     "/cgi/msg/send?accessToken=" + token,
		headers: map[string]string{"Content-Type": "application/json"},
		body:    env, ok: youduOK,
	}, nil
}

// loadFor builds the load generator's run of rq against addr.
// nonceSeq makes every NetEase nonce of a run unique.
var nonceSeq atomic.Uint64

func (o *options) loadFor(addr string, rq request) load {
	l := load{Addr: addr, Conns: o.conns, Duration: o.duration, Warmup: o.warmup, ok: rq.ok}
	l.prepare = func(w int, req *fasthttp.Request) {
		req.SetRequestURI("http://" + addr + rq.uri)
		req.Header.SetMethod("POST")
		for k, v := range rq.headers {
			req.Header.Set(k, v)
		}
		req.SetBody(rq.body)
	}
	if rq.signKey != "" {
		key, secret := rq.signKey, rq.signSecret
		l.refresh = func(req *fasthttp.Request, now time.Time) {
			// One nonce per request is what a real NetEase client sends;
			// signing costs about a microsecond of the load generator. The
			// clock alone repeats: two connections read the same
			// nanosecond about once in 300k requests, and the relay
			// rightly refuses the replay, so a sequence number leads.
			nonce := strconv.FormatUint(nonceSeq.Add(1), 36) + "." + strconv.FormatInt(now.UnixNano(), 36)
			cur := strconv.FormatInt(now.Unix(), 10)
			req.Header.Set("AppKey", key)
			req.Header.Set("Nonce", nonce)
			req.Header.Set("CurTime", cur)
			req.Header.Set("CheckSum", auth.CheckSum(secret, nonce, cur))
		}
	}
	return l
}

// row is one measured target.
type row struct {
	Name     string
	Group    string
	RPS      float64
	P50      time.Duration
	P99      time.Duration
	P999     time.Duration
	CPUPerRq time.Duration
	PeakMiB  float64
	Requests int64
	Errors   int64
	Load     string
	Note     string
	FirstErr string
}

// measure runs l against a process and reads its CPU and memory.
func measure(name, group string, l load, pid int) (row, error) {
	var before, after procUsage
	var uerr error
	o, err := l.run(func(start bool) {
		u, err := usage(pid)
		if err != nil && uerr == nil {
			uerr = err
		}
		if start {
			before = u
		} else {
			after = u
		}
	})
	if err != nil {
		return row{}, fmt.Errorf("bench: %s: %w", name, err)
	}
	if uerr != nil {
		return row{}, uerr
	}
	r := row{
		Name: name, Group: group, RPS: o.rps(),
		P50: o.Hist.quantile(0.5), P99: o.Hist.quantile(0.99), P999: o.Hist.quantile(0.999),
		PeakMiB:  float64(after.PeakKB) / 1024,
		Requests: o.Requests, Errors: o.Errors, Load: loadAvg(), FirstErr: o.FirstErr,
	}
	if o.Requests > 0 {
		r.CPUPerRq = (after.CPU - before.CPU) / time.Duration(o.Requests)
	}
	fmt.Fprintf(os.Stderr, "%-44s %9.0f req/s  p50 %-8v p99 %-8v p99.9 %-8v cpu/req %-8v peak %6.1f MiB  errors %d  load %s\n",
		name, r.RPS, r.P50, r.P99, r.P999, r.CPUPerRq, r.PeakMiB, r.Errors, r.Load)
	if o.FirstErr != "" {
		fmt.Fprintf(os.Stderr, "    first error: %s\n", o.FirstErr)
	}
	return r, nil
}

// report collects everything a run measured.
type report struct {
	Started  time.Time
	Opts     options
	Main     []row
	HalfLoad *row
	Sizes    []row
	Batches  []row
	Ready    []readyTime
	InstMem  *instMem
	Profile  string
	Skipped  []string
}

type readyTime struct {
	Kind  string
	Wall  time.Duration // exec → ready line
	Inner time.Duration // proxy.New → listening, as the relay measures it
}

func runBench(args []string) (err error) {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	var o options
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per target")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up per target")
	fs.IntVar(&o.conns, "conns", 16, "connections (each with one request in flight)")
	fs.IntVar(&o.pool, "pool", -1, "relay plugins.pool_size: -1 sizes it to -conns (see README), 0 keeps the relay's default")
	fs.StringVar(&o.out, "out", "", "write results.md, results.svg and profile.txt into this `dir` (empty: print only)")
	fs.BoolVar(&o.smoke, "smoke", false, "a few seconds: check that every part of the machinery works, assert no figure")
	fs.BoolVar(&o.nginx, "nginx", true, "measure the nginx + njs peer (skipped with a note when nginx is not installed)")
	fs.BoolVar(&o.traefik, "traefik", false, "measure the Traefik v3.6.12 + wasm plugin peer (builds Traefik once when missing: about 9 minutes; see README)")
	fs.BoolVar(&o.sweeps, "sweeps", true, "message-size and batch-size sweeps")
	fs.BoolVar(&o.profile, "pprof", true, "profile the relay under getsender → netease load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.smoke {
		o.duration, o.warmup, o.conns, o.sweeps, o.profile = 300*time.Millisecond, 100*time.Millisecond, 4, false, false
	}
	rep := &report{Started: time.Now().UTC(), Opts: o}

	// Before anything runs: a missing Traefik is built first, and the
	// build must not share the machine with a measurement.
	var traefikBin string
	if o.traefik {
		if traefikBin, err = ensureTraefik(); err != nil {
			return err
		}
	}

	up, err := spawn("upstream", "upstream")
	if err != nil {
		return err
	}
	defer up.stop()
	cache, err := os.MkdirTemp("", "imrelay-bench-cache-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(cache)

	// Start-to-ready: the first start compiles into the empty cache.
	if o.pool < 0 {
		o.pool = o.conns
	}
	relayArgs := func(extra ...string) []string {
		return append([]string{"relay", "-upstream", up.ready.URL, "-cache", cache, "-pool", strconv.Itoa(o.pool)}, extra...)
	}
	for i, kind := range []string{"cold", "warm", "warm", "warm"} {
		if o.smoke && i > 0 {
			break
		}
		t0 := time.Now()
		s, err := spawn("relay", relayArgs()...)
		if err != nil {
			return err
		}
		rep.Ready = append(rep.Ready, readyTime{Kind: kind, Wall: time.Since(t0), Inner: time.Duration(s.ready.StartupMS) * time.Millisecond})
		s.stop()
	}

	// with runs fn against a fresh relay, so each target's peak memory is
	// its own.
	var shared *server // smoke runs use one relay for every scenario
	defer func() { shared.stop() }()
	with := func(fn func(s *server) error, extra ...string) error {
		if o.smoke {
			if shared == nil {
				if shared, err = spawn("relay", relayArgs()...); err != nil {
					return err
				}
			}
			return fn(shared)
		}
		s, err := spawn("relay", relayArgs(extra...)...)
		if err != nil {
			return err
		}
		defer s.stop()
		return fn(s)
	}
	add := func(dst *[]row, name, group string, l load, pid int) error {
		r, err := measure(name, group, l, pid)
		if err != nil {
			return err
		}
		*dst = append(*dst, r)
		return nil
	}

	if err := add(&rep.Main, "upstream direct (NetEase emulator)", "ceiling", o.loadFor(up.addr, neteaseRequest(upstreamKey, upstreamSecr, 100)), up.pid()); err != nil {
		return err
	}
	if err := with(func(s *server) error {
		// The same call spelled with /nimserver, which the relay's
		// pass-through route answers (relayConfig).
		rq := neteaseRequest(benchNeKey, benchNeSec, 100)
		rq.uri = "/nimserver" + rq.uri
		return add(&rep.Main, passthroughRow, "imrelay", o.loadFor(s.addr, rq), s.pid())
	}); err != nil {
		return err
	}
	if err := with(func(s *server) error {
		return add(&rep.Main, codecRoundTripRow, "imrelay", o.loadFor(s.addr, neteaseRequest(benchNeKey, benchNeSec, 100)), s.pid())
	}); err != nil {
		return err
	}
	var gsRow row
	if err := with(func(s *server) error {
		if err := add(&rep.Main, "imrelay getsender → netease", "imrelay", o.loadFor(s.addr, getsenderRequest(100)), s.pid()); err != nil {
			return err
		}
		gsRow = rep.Main[len(rep.Main)-1]
		return nil
	}); err != nil {
		return err
	}
	if o.pool != 0 && !o.smoke {
		// The relay's own default pool, to show what it does under the
		// same load (see README: the response side acquires the codecs
		// in the opposite order to the request side).
		if err := with(func(s *server) error {
			if err := add(&rep.Main, "imrelay getsender → netease, default pool size", "imrelay", o.loadFor(s.addr, getsenderRequest(100)), s.pid()); err != nil {
				return err
			}
			rep.Main[len(rep.Main)-1].Note = "plugins.pool_size unset: 2 × GOMAXPROCS"
			return nil
		}, "-pool", "0"); err != nil {
			return err
		}
	}
	if err := with(func(s *server) error {
		rq, err := youduRequest(s.ready.YouduToken)
		if err != nil {
			return err
		}
		return add(&rep.Main, "imrelay youdu → netease (AES in)", "imrelay", o.loadFor(s.addr, rq), s.pid())
	}); err != nil {
		return err
	}
	if err := with(func(s *server) error {
		if err := add(&rep.Main, "imrelay opapp batch of 10 → netease", "imrelay", o.loadFor(s.addr, opappRequest(10)), s.pid()); err != nil {
			return err
		}
		rep.Main[len(rep.Main)-1].Note = "10 NetEase requests per client request"
		return nil
	}); err != nil {
		return err
	}
	gp, err := spawn("goproxy", "goproxy", "-upstream", up.ready.URL)
	if err != nil {
		return err
	}
	err = add(&rep.Main, "Go net/http ReverseProxy + native translation", "peer", o.loadFor(gp.addr, getsenderRequest(100)), gp.pid())
	gp.stop()
	if err != nil {
		return err
	}
	switch {
	case !o.nginx:
		rep.Skipped = append(rep.Skipped, "nginx + njs: -nginx=false")
	case !haveNginx():
		rep.Skipped = append(rep.Skipped, "nginx + njs: nginx or libnginx-mod-http-js is not installed (make bench-relay installs them)")
	default:
		ng, err := startNginx(up.ready.URL)
		if err != nil {
			return err
		}
		err = add(&rep.Main, "nginx + njs 0.7.9 (subrequest, keepalive)", "peer", o.loadFor(ng.addr, getsenderRequest(100)), ng.pid())
		ng.stop()
		if err != nil {
			return err
		}
	}
	if o.traefik {
		tf, err := startTraefik(traefikBin, up.ready.URL)
		if err != nil {
			return err
		}
		err = add(&rep.Main, traefikRow, "peer", o.loadFor(tf.addr, getsenderRequest(100)), tf.pid())
		tf.stop()
		if err != nil {
			return err
		}
		rep.Main[len(rep.Main)-1].Note = "buffering middleware after the plugin"
	} else {
		rep.Skipped = append(rep.Skipped, "Traefik: -traefik not set (make bench-traefik)")
	}

	// p99 at half of the peak just measured.
	if gsRow.RPS > 0 && !o.smoke {
		if err := with(func(s *server) error {
			l := o.loadFor(s.addr, getsenderRequest(100))
			l.Rate = gsRow.RPS / 2
			r, err := measure(fmt.Sprintf("imrelay getsender → netease at %.0f req/s (½ peak)", l.Rate), "imrelay", l, s.pid())
			rep.HalfLoad = &r
			return err
		}); err != nil {
			return err
		}
	}

	if o.sweeps {
		for _, size := range []int{100, 1024, 10240} {
			if err := with(func(s *server) error {
				return add(&rep.Sizes, fmt.Sprintf("imrelay getsender → netease, %s body", human(size)), "size", o.loadFor(s.addr, getsenderRequest(size)), s.pid())
			}); err != nil {
				return err
			}
			if err := with(func(s *server) error {
				return add(&rep.Sizes, fmt.Sprintf("imrelay netease → netease, %s body", human(size)), "size", o.loadFor(s.addr, neteaseRequest(benchNeKey, benchNeSec, size)), s.pid())
			}); err != nil {
				return err
			}
		}
		for _, n := range []int{1, 10, 100} {
			if err := with(func(s *server) error {
				return add(&rep.Batches, fmt.Sprintf("imrelay opapp batch of %d → netease", n), "batch", o.loadFor(s.addr, opappRequest(n)), s.pid())
			}); err != nil {
				return err
			}
		}
	}

	im, err := spawnInstMem(cache)
	if err != nil {
		return err
	}
	rep.InstMem = im

	if o.profile {
		prof := filepath.Join(cache, "relay.pprof")
		if err := with(func(s *server) error {
			_, err := measure("imrelay getsender → netease (profiled)", "profile", o.loadFor(s.addr, getsenderRequest(100)), s.pid())
			return err
		}, "-cpuprofile", prof); err != nil {
			return err
		}
		rep.Profile = pprofTop(prof)
	}

	for _, r := range append(append([]row{}, rep.Main...), rep.Sizes...) {
		if r.Errors > 0 && o.smoke {
			return fmt.Errorf("bench: %s: %d of %d requests failed (first: %s)", r.Name, r.Errors, r.Requests, r.FirstErr)
		}
	}
	return rep.write(o.out)
}

func spawnInstMem(cache string) (*instMem, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	out, err := exec.Command(self, "instmem", "-cache", cache).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("bench: instmem: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("bench: instmem: %w", err)
	}
	var im instMem
	if err := json.Unmarshal(out, &im); err != nil {
		return nil, fmt.Errorf("bench: instmem output %q: %w", out, err)
	}
	return &im, nil
}

// pprofTop renders the profile's top functions with `go tool pprof`.
func pprofTop(prof string) string {
	self, _ := os.Executable()
	var parts []string
	for _, mode := range [][]string{{"-top", "-nodecount=25"}, {"-top", "-cum", "-nodecount=25"}} {
		args := append([]string{"tool", "pprof"}, mode...)
		args = append(args, self, prof)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
		}
		parts = append(parts, string(out))
	}
	return strings.Join(parts, "\n")
}

func human(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + " KB"
	}
	return strconv.Itoa(n) + " B"
}
