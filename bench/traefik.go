package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// The Traefik + wasm peer (`bench run -traefik`): Traefik v3.6.12, built
// from its module source, with the getsender → NetEase translation as an
// http-wasm local plugin (the Go wasip1 guest in traefikguest/), followed
// by Traefik's buffering middleware, which sets the request's
// ContentLength from the body the plugin wrote (http-wasm-host-go keeps
// the client's, and the transport then fails with a 500).

const (
	traefikModule  = "github.com/traefik/traefik/v3"
	traefikVersion = "v3.6.12"
	traefikRow     = "Traefik v3.6.12 + wasm plugin (http-wasm)"
	// guestModule is the plugin's module name under plugins-local/src.
	guestModule = "github.com/imrelay/imrelay/bench/traefikguest"
)

// traefikDir is where the built binary is kept between runs:
// $IMRELAY_CACHE/traefik-v3.6.12 when IMRELAY_CACHE is set, else
// <user cache dir>/imrelay/traefik-v3.6.12.
func traefikDir() (string, error) {
	base := os.Getenv("IMRELAY_CACHE")
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("bench: traefik: no cache dir (set IMRELAY_CACHE): %w", err)
		}
		base = filepath.Join(d, "imrelay")
	}
	return filepath.Join(base, "traefik-"+traefikVersion), nil
}

// ensureTraefik returns the cached Traefik binary, building it first when
// it is missing.
func ensureTraefik() (string, error) {
	dir, err := traefikDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "traefik")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "bench: Traefik %s is not built yet: building it from module source into %s, once "+
		"(about 9 minutes on 2 cores, a 245 MB binary; the log is build.log there)\n", traefikVersion, dir)
	t0 := time.Now()
	if err := buildTraefik(dir, bin); err != nil {
		return "", err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("bench: traefik: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: Traefik %s built in %s, %.0f MB\n", traefikVersion, time.Since(t0).Round(time.Second), float64(fi.Size())/1e6)
	return bin, nil
}

// buildTraefik builds cmd/traefik of traefik v3.6.12 in a throwaway tools
// module: `go install` refuses a module with replace directives, so the
// tools module is Traefik's own go.mod renamed (its pinned requirements,
// replace and exclude lines hold) plus a require of Traefik itself.
func buildTraefik(dir, bin string) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "build.log"))
	if err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	defer logf.Close()
	run := func(c *exec.Cmd) ([]byte, error) {
		c.Dir = src
		c.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		var out bytes.Buffer
		c.Stdout = &out
		c.Stderr = logf
		if err := c.Run(); err != nil {
			_, _ = logf.Seek(0, io.SeekStart)
			log, _ := io.ReadAll(logf)
			return nil, fmt.Errorf("bench: traefik: %s: %w\n%s", strings.Join(c.Args, " "), err, tail(log, 2000))
		}
		return out.Bytes(), nil
	}
	// Outside any module, `go mod download` fetches the module and says
	// where its go.mod is.
	dl := exec.Command("go", "mod", "download", "-json", traefikModule+"@"+traefikVersion)
	out, err := run(dl)
	if err != nil {
		return err
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.GoMod == "" {
		return fmt.Errorf("bench: traefik: go mod download said %q (%v)", out, err)
	}
	mod, err := os.ReadFile(info.GoMod)
	if err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	gomod, err := toolsGoMod(mod)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), gomod, 0o644); err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	tools := "//go:build tools\n\npackage tools\n\nimport _ \"" + traefikModule + "/cmd/traefik\"\n"
	if err := os.WriteFile(filepath.Join(src, "tools.go"), []byte(tools), 0o644); err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	tmp := bin + ".tmp"
	if _, err := run(exec.Command("go", "build", "-trimpath",
		"-ldflags=-X "+traefikModule+"/pkg/version.Version="+traefikVersion,
		"-o", tmp, traefikModule+"/cmd/traefik")); err != nil {
		return err
	}
	if err := os.Rename(tmp, bin); err != nil {
		return fmt.Errorf("bench: traefik: %w", err)
	}
	return nil
}

// toolsGoMod turns Traefik's go.mod into the tools module's.
func toolsGoMod(traefikMod []byte) ([]byte, error) {
	lines := strings.Split(string(traefikMod), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "module ") {
			lines[i] = "module imrelay.invalid/traefikbuild"
			return []byte(strings.Join(lines, "\n") + "\nrequire " + traefikModule + " " + traefikVersion + "\n"), nil
		}
	}
	return nil, fmt.Errorf("bench: traefik: no module line in its go.mod")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

const traefikStatic = `global:
  checkNewVersion: false
  sendAnonymousUsage: false
log:
  level: ERROR
entryPoints:
  web:
    address: %[1]q
    transport:
      lifeCycle:
        graceTimeOut: 1s
providers:
  file:
    filename: %[2]q
    watch: false
experimental:
  localPlugins:
    getsender:
      moduleName: %[3]q
`

const traefikDynamic = `http:
  routers:
    getsender:
      entryPoints: [web]
      rule: "Path(` + "`/sender/v1/handleBusinessMessage`" + `)"
      middlewares: [translate, buffer]
      service: netease
  middlewares:
    translate:
      plugin:
        getsender:
          appKey: %[2]q
          appSecret: %[3]q
          client: %[4]q
          token: %[5]q
          sender: %[6]q
    buffer:
      buffering:
        maxRequestBodyBytes: 1048576
        memRequestBodyBytes: 1048576
  services:
    netease:
      loadBalancer:
        serversTransport: keepalive
        servers:
          - url: %[1]q
  serversTransports:
    keepalive:
      maxIdleConnsPerHost: 512
`

const traefikManifest = `displayName: imrelay getsender to NetEase
type: middleware
runtime: wasm
summary: The getsender to NetEase v2 translation of the imrelay benchmark, as an http-wasm guest.
testData: {}
`

// traefikFiles lays out dir as Traefik wants it: the static and dynamic
// configuration, and plugins-local/src/<module>/ with .traefik.yml and
// plugin.wasm, built from traefikguest/ (Traefik looks for plugins-local
// in its working directory).
func traefikFiles(dir, addr, upstream string) (static string, err error) {
	plugin := filepath.Join(dir, "plugins-local", "src", filepath.FromSlash(guestModule))
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		return "", fmt.Errorf("bench: traefik: %w", err)
	}
	build := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-ldflags=-s -w",
		"-o", filepath.Join(plugin, "plugin.wasm"), guestModule)
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: traefik: building the guest (run from the imrelay module): %w\n%s", err, out)
	}
	dynamic := filepath.Join(dir, "dynamic.yml")
	static = filepath.Join(dir, "traefik.yml")
	files := map[string]string{
		filepath.Join(plugin, ".traefik.yml"): traefikManifest,
		dynamic:                               fmt.Sprintf(traefikDynamic, upstream, upstreamKey, upstreamSecr, benchClient, benchToken, benchSender),
		static:                                fmt.Sprintf(traefikStatic, addr, dynamic, guestModule),
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			return "", fmt.Errorf("bench: traefik: %w", err)
		}
	}
	return static, nil
}

// startTraefik runs the Traefik peer on a free loopback port and waits
// until it answers a getsender message through the plugin.
func startTraefik(bin, upstream string) (*server, error) {
	dir, err := os.MkdirTemp("", "imrelay-bench-traefik-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	static, err := traefikFiles(dir, addr, upstream)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "traefik.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, "--configFile="+static)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start traefik: %w", err)
	}
	s := &server{name: "traefik", cmd: cmd, addr: addr, dir: dir, ready: ready{URL: "http://" + addr}}
	// Ready means a translated message made the round trip: the entry
	// point listens before the file provider's routers and the plugin
	// are in place. Bounded: 300 tries, 100 ms apart.
	rq := getsenderRequest(100)
	c := &http.Client{Timeout: 2 * time.Second}
	var last string
	for i := 0; i < 300; i++ {
		if exited(cmd.Process.Pid) {
			last = "traefik exited"
			break
		}
		last = probe(c, "http://"+addr+rq.uri, rq.body)
		if last == "" {
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "traefik.log"))
	s.stop()
	return nil, fmt.Errorf("bench: traefik on %s did not answer a getsender message (last: %s)\n%s", addr, last, tail(log, 4000))
}

// probe sends one getsender message and says what was wrong with the
// answer ("" when it is a success).
func probe(c *http.Client, url string, body []byte) string {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode != 200 || gjson.GetBytes(b, "code").Int() != 200 {
		return "HTTP " + strconv.Itoa(resp.StatusCode) + ": " + string(tail(b, 300))
	}
	return ""
}
