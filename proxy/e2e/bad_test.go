package e2e

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/proxy/auth"
	"github.com/imrelay/imrelay/proxy/config"
)

// A bad case is one file in testdata/bad/<dialect>/: header lines, a line
// of four dashes, then the body exactly as the client sends it (for Youdu,
// the plaintext the test seals, unless "auth: raw").
//
//	# what the case shows (any number of comment lines)
//	method: POST            default POST
//	path: /cgi/msg/send     required; sent as written (already percent-encoded)
//	query: &a=b             appended after the dialect's credentials
//	header: Name: value     repeatable
//	auth: good              good | stale | replay | none | raw | expired
//	gen: deep 200000        replace @GEN@ in the body (deep N, big N,
//	                        jsonids N, pipeids N, hex BYTES, repeat N ITEM)
//	targets: netease        default: every built target
//	status: 200             the HTTP status the client must get
//	code: 414               the dialect's error code (getsender/opapp and
//	                        netease "code", easemob "error", youdu "errcode")
//	text: conversation      substring (case-insensitive) of the dialect's
//	                        error text (message, desc, error_description,
//	                        errmsg); repeatable, every one must appear
//	----
//	body
type badCase struct {
	name, dialect    string
	method, path     string
	query            string
	headers          [][2]string
	auth             string
	gen              string
	targets          []string
	status           int
	code             string
	texts            []string
	body             []byte
	hasStatus, hasCd bool
}

func parseBadCase(dialect, name string, b []byte) (*badCase, error) {
	head, body, ok := bytes.Cut(b, []byte("\n----\n"))
	if !ok {
		if bytes.HasSuffix(b, []byte("\n----")) {
			head, body = b[:len(b)-5], nil
		} else {
			return nil, fmt.Errorf("no ---- line")
		}
	}
	c := &badCase{name: name, dialect: dialect, method: "POST", auth: "good", body: body}
	for _, line := range strings.Split(string(head), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q is not key: value", line)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "method":
			c.method = v
		case "path":
			c.path = v
		case "query":
			c.query = v
		case "header":
			hk, hv, _ := strings.Cut(v, ":")
			c.headers = append(c.headers, [2]string{strings.TrimSpace(hk), strings.TrimSpace(hv)})
		case "auth":
			c.auth = v
		case "gen":
			c.gen = v
		case "targets":
			c.targets = strings.Split(v, ",")
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("status %q", v)
			}
			c.status, c.hasStatus = n, true
		case "code":
			c.code, c.hasCd = v, true
		case "text":
			c.texts = append(c.texts, v)
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	if c.path == "" || !c.hasStatus || !c.hasCd || len(c.texts) == 0 {
		return nil, fmt.Errorf("path, status, code and text are required")
	}
	var err error
	c.body, err = generate(c.gen, c.body)
	return c, err
}

// generate expands @GEN@ in body: large and deep bodies are made here
// rather than committed.
func generate(gen string, body []byte) ([]byte, error) {
	if gen == "" {
		return body, nil
	}
	kind, arg, _ := strings.Cut(gen, " ")
	var out []byte
	if kind == "repeat" {
		// repeat N ITEM: N copies of ITEM joined by commas, # → the index.
		ns, item, _ := strings.Cut(arg, " ")
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 || n > 100000 {
			return nil, fmt.Errorf("gen %q: bad count", gen)
		}
		for i := 0; i < n; i++ {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, strings.ReplaceAll(item, "#", strconv.Itoa(i))...)
		}
	} else if kind == "hex" {
		b, err := hex.DecodeString(arg)
		if err != nil {
			return nil, fmt.Errorf("gen hex: %w", err)
		}
		out = b
	} else {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 8<<20 {
			return nil, fmt.Errorf("gen %q: bad count", gen)
		}
		switch kind {
		case "deep":
			out = append(bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n)...)
		case "big":
			out = bytes.Repeat([]byte("a"), n)
		case "jsonids", "pipeids":
			sep, q := ",", `"`
			if kind == "pipeids" {
				sep, q = "|", ""
			}
			for i := 0; i < n; i++ {
				if i > 0 {
					out = append(out, sep...)
				}
				out = append(out, q+"r"+strconv.Itoa(i)+q...)
			}
		default:
			return nil, fmt.Errorf("gen %q: unknown generator", gen)
		}
	}
	if !bytes.Contains(body, []byte("@GEN@")) {
		return nil, fmt.Errorf("gen %q: the body has no @GEN@", gen)
	}
	return bytes.ReplaceAll(body, []byte("@GEN@"), out), nil
}

func loadBadCases(t *testing.T) []*badCase {
	t.Helper()
	root := filepath.Join("..", "..", "testdata", "bad")
	var cases []*badCase
	for _, d := range config.Dialects {
		files, err := filepath.Glob(filepath.Join(root, d, "*.txt"))
		must(t, err)
		if len(files) == 0 {
			t.Errorf("testdata/bad/%s has no cases", d)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			must(t, err)
			name := strings.TrimSuffix(filepath.Base(f), ".txt")
			c, err := parseBadCase(d, name, b)
			if err != nil {
				t.Fatalf("testdata/bad/%s/%s.txt: %v", d, name, err)
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// errorOf reads the dialect's error code and text from an answer.
func errorOf(dialect, body string) (code, text string) {
	switch dialect {
	case config.Getsender, config.Opapp:
		return gjson.Get(body, "code").Raw, gjson.Get(body, "message").String()
	case config.Netease:
		return gjson.Get(body, "code").Raw, gjson.Get(body, "desc").String() + " " + gjson.Get(body, "msg").String()
	case config.Easemob:
		return gjson.Get(body, "error").String(), gjson.Get(body, "error_description").String()
	case config.Youdu:
		return gjson.Get(body, "errcode").Raw, gjson.Get(body, "errmsg").String()
	}
	return "", ""
}

// sendBad sends a bad case to the relay for target, with the dialect's
// credentials (or the broken ones the case asks for).
func (e *env) sendBad(c *badCase, target string) answer {
	e.t.Helper()
	h := map[string]string{}
	for _, kv := range c.headers {
		h[kv[0]] = kv[1]
	}
	uri := c.path
	body := c.body
	switch c.dialect {
	case config.Getsender:
		if c.auth != "none" {
			uri += "?apiVersion=01&client=" + clientGetsender + "&token=" + tokenGetsender + "&sign=x"
		}
	case config.Opapp:
		if c.auth != "none" {
			uri += "?apiVersion=01&client=" + clientOpapp + "&version=1.15&channel=" + channelOpapp + "&sign=x"
		}
	case config.Netease:
		now := time.Now()
		if c.auth == "stale" {
			now = now.Add(-10 * time.Minute)
		}
		ct := strconv.FormatInt(now.Unix(), 10)
		nonce := "bad" + strconv.FormatInt(now.UnixNano(), 36) + target
		if c.auth != "none" {
			h["AppKey"], h["Nonce"], h["CurTime"], h["CheckSum"] = neAppKey, nonce, ct, auth.CheckSum(neAppSecret, nonce, ct)
		}
		if c.auth == "replay" {
			// The first use is legitimate: its body is a valid message to
			// a recipient that must then receive exactly one.
			first := e.do(target, c.method, uri, h, body)
			if !accepted(config.Netease, first, "") {
				e.t.Fatalf("the first use of the checksum was refused: %d %s", first.status, first.body)
			}
		}
	case config.Easemob:
		if c.auth != "none" {
			h["Authorization"] = "Bearer " + e.easemobToken(target)
		}
	case config.Youdu:
		if c.auth != "none" && c.auth != "expired" {
			uri += "?accessToken=" + e.youduToken(target)
		}
		if c.auth != "raw" {
			body = sealYoudu(e.t, ydBuin, ydApp, ydKey, string(body))
		}
	}
	if c.query != "" {
		if !strings.Contains(uri, "?") {
			uri += "?"
		}
		uri += c.query
	}
	var a answer
	if len(body) > int(config.DefaultMaxBody) {
		a = e.doEarly(target, c.method, uri, h, body)
	} else {
		a = e.do(target, c.method, uri, h, body)
	}
	if c.dialect == config.Youdu && gjson.Get(a.body, "encrypt").Type == gjson.String {
		a.body = openYoudu(e.t, ydKey, gjson.Get(a.body, "encrypt").Str)
	}
	return a
}

// TestBadInput runs every case of testdata/bad through the relay to every
// target: the client gets its dialect's error naming the problem, and no
// provider receives anything.
func TestBadInput(t *testing.T) {
	cases := loadBadCases(t)
	e := newEnv(t, nil)
	for _, c := range cases {
		t.Run(c.dialect+"/"+c.name, func(t *testing.T) {
			if !codecAvailable(c.dialect) {
				t.Skipf("needs plugins/%s built", c.dialect)
			}
			targets := c.targets
			if targets == nil {
				targets = e.dialect
			}
			for _, target := range targets {
				if !codecAvailable(target) {
					continue
				}
				before := inboxTotal(e)
				a := e.sendBad(c, target)
				code, text := errorOf(c.dialect, a.body)
				if a.status != c.status || code != c.code {
					t.Errorf("->%s: answer %d %s, want status %d and code %s", target, a.status, clip(a.body), c.status, c.code)
				}
				for _, w := range c.texts {
					if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
						t.Errorf("->%s: error text %q does not name %q", target, clip(text), w)
					}
				}
				want := before
				if c.auth == "replay" {
					want++ // the legitimate first use
				}
				if got := inboxTotal(e); got != want {
					t.Errorf("->%s: the providers received %d messages, want %d", target, got-before, want-before)
				}
			}
		})
	}
}

// doEarly sends a request whose body is over the relay's limit the way a
// patient client does: it writes the body on one goroutine and reads the
// answer on another, since the relay answers (and closes) as soon as it
// reads Content-Length, without reading the body.
func (e *env) doEarly(target, method, uri string, headers map[string]string, body []byte) answer {
	e.t.Helper()
	conn, err := e.ln.Dial()
	must(e.t, err)
	written := make(chan struct{})
	defer func() {
		_ = conn.Close() // ends a write the relay stopped reading
		<-written
	}()
	req := new(fasthttp.Request)
	req.SetRequestURI("http://" + target + ".relay" + uri)
	req.Header.SetMethod(method)
	req.Header.SetContentType("application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBody(body)
	go func() {
		defer close(written)
		w := bufio.NewWriter(conn)
		if req.Write(w) == nil {
			_ = w.Flush()
		}
	}()
	must(e.t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		e.t.Fatalf("%s %s: no answer to an oversize body: %v", method, uri, err)
	}
	return answer{resp.StatusCode(), string(resp.Body())}
}

// inboxTotal counts every message every provider has accepted so far.
func inboxTotal(e *env) int {
	n := 0
	for _, v := range e.vendors {
		n += v.core.Inbox.Len() + int(v.core.Inbox.Dropped())
	}
	return n
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
