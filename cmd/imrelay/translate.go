package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/imrelay/imrelay/plugins"
	"github.com/imrelay/imrelay/proxy/wasmhost"
	"github.com/imrelay/imrelay/sdk/abi"
)

// dialects are the five built-in codecs, in the order the docs list them.
var dialects = []string{"getsender", "opapp", "youdu", "netease", "easemob"}

// defaultPath is the path translate assumes for a body given without a
// request line.
var defaultPath = map[string]string{
	"getsender": "/sender/v1/handleBusinessMessage",
	"opapp":     "/opapp/send2EasemobMessage",
	"youdu":     "/cgi/msg/send",
	"netease":   "/im/v2/conversations/messages",
	"easemob":   "/org/app/messages/users",
}

// hostAdds describes, per target dialect, what the relay adds to every
// provider request after the plugin has encoded it. translate prints it so
// the preview is complete without printing a secret.
var hostAdds = map[string][]string{
	"getsender": {"query: client=<client id>&token=<client token>[&sign=...] and the provider's credentials.query, e.g. apiVersion=01 (added by imrelay)"},
	"opapp":     {"query: client=<client id>&channel=<channel>[&sign=...] and the provider's credentials.query, e.g. apiVersion=01 (added by imrelay)"},
	"youdu": {
		"query: accessToken=<token from /cgi/gettoken> (added by imrelay)",
		"body: sent as {\"buin\":<buin>,\"appId\":\"<app id>\",\"encrypt\":\"<AES-256-CBC of the body below>\"} (added by imrelay)",
	},
	"netease": {"AppKey: <app key>", "Nonce: <random>", "CurTime: <unix seconds>", "CheckSum: <sha1(secret+nonce+curtime)> (all four added by imrelay)"},
	"easemob": {"Authorization: Bearer <app token from /token> (added by imrelay)"},
}

type optionFlags map[string]string

func (o optionFlags) String() string { return fmt.Sprint(map[string]string(o)) }

func (o optionFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	o[k] = val
	return nil
}

// runTranslate implements `imrelay translate`: it shows the provider requests
// a client payload becomes, without any network, so a team can preview a
// migration.
func runTranslate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the client's dialect: "+strings.Join(dialects, ", "))
	to := fs.String("to", "", "the target provider's dialect")
	path := fs.String("path", "", "request path, when the file holds only a body (default: the dialect's usual path)")
	policy := fs.String("policy", "reject", "what to do with a kind the target cannot carry exactly: reject or degrade")
	inOpts, outOpts := optionFlags{}, optionFlags{}
	fs.Var(inOpts, "from-option", "option for the client's codec, key=value (repeatable)")
	fs.Var(outOpts, "to-option", "option for the target's codec, key=value (repeatable), e.g. org=acme, api=v1")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imrelay translate -from DIALECT -to DIALECT [flags] [FILE]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "FILE (or standard input) is a client body, or a request: a line 'POST /path?query',")
		fmt.Fprintln(stderr, "optional header lines, a blank line and the body. Youdu bodies are the plaintext")
		fmt.Fprintln(stderr, "of the AES envelope. Nothing is sent anywhere.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	for _, d := range []struct{ flag, val string }{{"-from", *from}, {"-to", *to}} {
		if _, ok := defaultPath[d.val]; !ok {
			fmt.Fprintf(stderr, "imrelay translate: %s %q: want one of %s\n", d.flag, d.val, strings.Join(dialects, ", "))
			return 2
		}
	}
	if *policy != "reject" && *policy != "degrade" {
		fmt.Fprintf(stderr, "imrelay translate: -policy %q: want reject or degrade\n", *policy)
		return 2
	}
	outOpts["policy"] = *policy

	var input []byte
	var err error
	switch fs.NArg() {
	case 0:
		input, err = io.ReadAll(os.Stdin)
	case 1:
		input, err = os.ReadFile(fs.Arg(0))
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "imrelay translate: %v\n", err)
		return 1
	}
	req := parseRequest(input, *from)
	if *path != "" {
		req.path, req.query, _ = strings.Cut(*path, "?")
	}
	ctx := context.Background()
	tr, err := newTranslator()
	if err != nil {
		fmt.Fprintf(stderr, "imrelay translate: %v\n", err)
		return 1
	}
	defer tr.Close(ctx)
	out, err := tr.translate(ctx, req, *from, *to, jsonObject(inOpts), jsonObject(outOpts))
	if err != nil {
		fmt.Fprintf(stderr, "imrelay translate: %v\n", err)
		return 1
	}
	if err := printRequests(stdout, *to, out); err != nil {
		fmt.Fprintf(stderr, "imrelay translate: %v\n", err)
		return 1
	}
	return 0
}

// clientRequest is the client request translate feeds the inbound codec.
type clientRequest struct {
	method, path, query, contentType string
	body                             []byte
}

// parseRequest reads either a bare body or a request line, headers and body.
func parseRequest(input []byte, dialect string) clientRequest {
	req := clientRequest{method: "POST", path: defaultPath[dialect], contentType: "application/json", body: input}
	line, rest, _ := bytes.Cut(input, []byte("\n"))
	method, target, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
	if !ok || !strings.HasPrefix(target, "/") || strings.ToUpper(method) != method || method == "" {
		req.body = bytes.TrimSpace(input)
		return req
	}
	req.method = method
	req.path, req.query, _ = strings.Cut(strings.Fields(target)[0], "?")
	sc := bufio.NewScanner(bytes.NewReader(rest))
	consumed := 0
	for sc.Scan() {
		l := sc.Text()
		consumed += len(l) + 1
		if strings.TrimSpace(l) == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-type") {
			req.contentType = strings.TrimSpace(v)
		}
	}
	if consumed > len(rest) {
		consumed = len(rest)
	}
	req.body = bytes.TrimSpace(rest[consumed:])
	if strings.HasSuffix(req.path, ".action") && req.contentType == "application/json" {
		req.contentType = "application/x-www-form-urlencoded;charset=UTF-8"
	}
	return req
}

func jsonObject(m map[string]string) []byte {
	if len(m) == 0 {
		return []byte("{}")
	}
	b, _ := json.Marshal(m)
	return b
}

// translator runs the built-in codecs through the plugin host, loading each
// one the first time it is needed.
type translator struct {
	host    *wasmhost.Host
	plugins map[string]*wasmhost.Plugin
}

func newTranslator() (*translator, error) {
	host, err := wasmhost.New(wasmhost.Config{CacheDir: cacheDir()})
	if err != nil {
		return nil, err
	}
	return &translator{host: host, plugins: map[string]*wasmhost.Plugin{}}, nil
}

func (t *translator) Close(ctx context.Context) error { return t.host.Close(ctx) }

func (t *translator) plugin(ctx context.Context, name string) (*wasmhost.Plugin, error) {
	if p, ok := t.plugins[name]; ok {
		return p, nil
	}
	wasm, ok := plugins.Get(name)
	if !ok {
		return nil, fmt.Errorf("no built-in plugin %q", name)
	}
	p, err := t.host.Load(ctx, name, wasm, wasmhost.Options{Kind: abi.KindCodec, MaxInstances: 1})
	if err != nil {
		return nil, err
	}
	t.plugins[name] = p
	return p, nil
}

// translate decodes req with the from codec and encodes the batch with the
// to codec, returning the encoded request frame.
func (t *translator) translate(ctx context.Context, req clientRequest, from, to string, inOpts, outOpts []byte) ([]byte, error) {
	dec, err := t.plugin(ctx, from)
	if err != nil {
		return nil, err
	}
	enc, err := t.plugin(ctx, to)
	if err != nil {
		return nil, err
	}
	in := abi.AppendFrame(nil, abi.FieldBody+1)
	for _, f := range [][]byte{inOpts, []byte(req.method), []byte(req.path), []byte(req.query), []byte(req.contentType), req.body} {
		in = abi.AppendField(in, f)
	}
	batch, err := dec.Run(ctx, abi.HookDecodeRequest, in)
	if err != nil {
		return nil, fmt.Errorf("decode as %s: %w", from, err)
	}
	if !json.Valid(batch) { // as the relay does: encoders trust the batch
		return nil, fmt.Errorf("decode as %s: the plugin returned a batch that is not valid JSON", from)
	}
	in = abi.AppendFrame(in[:0], abi.FieldBatch+1)
	in = abi.AppendField(in, outOpts)
	in = abi.AppendField(in, batch)
	out, err := enc.Run(ctx, abi.HookEncodeRequest, in)
	if err != nil {
		return nil, fmt.Errorf("encode as %s: %w", to, err)
	}
	return out, nil
}

// cacheDir is where compiled plugins are kept between runs: $IMRELAY_CACHE
// when set, else the user's cache folder.
func cacheDir() string {
	if d := os.Getenv("IMRELAY_CACHE"); d != "" {
		return d
	}
	return wasmhost.DefaultCacheDir()
}

// printRequests renders encoded provider requests for people: request line,
// headers (what the plugin set, then what imrelay adds), and the body,
// indented when it is JSON.
func printRequests(w io.Writer, to string, frame []byte) error {
	reqs, err := abi.Split(frame, nil)
	if err != nil {
		return fmt.Errorf("encoded requests: %w", err)
	}
	fmt.Fprintf(w, "# %d request(s) to %s\n", len(reqs), to)
	adds := hostAdds[to]
	for i, r := range reqs {
		f, err := abi.Split(r, nil)
		if err != nil || len(f) != abi.RequestFields {
			return fmt.Errorf("encoded request %d: malformed (%v)", i, err)
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		target := string(f[abi.RequestFieldPath])
		if q := f[abi.RequestFieldQuery]; len(q) > 0 {
			target += "?" + string(q)
		}
		fmt.Fprintf(w, "%s %s\n", f[abi.RequestFieldMethod], target)
		if ct := f[abi.RequestFieldContentType]; len(ct) > 0 {
			fmt.Fprintf(w, "Content-Type: %s\n", ct)
		}
		for _, a := range adds {
			fmt.Fprintf(w, "# %s\n", a)
		}
		fmt.Fprintln(w)
		body := f[abi.RequestFieldBody]
		var pretty bytes.Buffer
		if json.Valid(body) && json.Indent(&pretty, body, "", "  ") == nil {
			body = pretty.Bytes()
		}
		w.Write(body)
		fmt.Fprintln(w)
	}
	return nil
}
