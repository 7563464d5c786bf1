// Command echo is the smallest imrelay plugin, and the one to read first.
//
// It is a codec for a toy dialect, also called echo, where a client sends
//
//	POST /echo   {"to": "alice", "text": "hi"}
//
// ("to" may also be a list of users, "from" is optional) and a provider
// accepts one request per recipient with the same fields, answering
// {"id": "..."}. Being its own inverse, it shows every hook of a codec with
// nothing in the way: read the input with gjson, write the output with the
// SDK's JSON builder, return errors the client can act on.
//
// A plugin is an ordinary Go main package. Its init registers the codec;
// everything WebAssembly (the exports the host calls, buffers, error
// documents) lives in the sdk package. The same code also builds natively,
// which is how its tests run it first natively and then as echo.wasm
// (see echo_test.go and README.md).
package main

import (
	"bytes"
	"fmt"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
)

// init registers the codec. One plugin registers exactly one codec or one
// middleware.
func init() { sdk.RegisterCodec(&echo{maxText: defaultMaxText}) }

// main is never called in wasm (the host calls the exports), but a Go
// program needs one.
func main() {}

// defaultMaxText is the longest text accepted when the configuration does
// not say otherwise.
const defaultMaxText = 4096

// echo holds what the plugin keeps between calls: its configuration, read
// once by Init, and a scratch builder reused for every request tag. One
// instance of a plugin runs one call at a time, so no locking is needed.
type echo struct {
	maxText int64
	tag     sdk.JSON
}

// Interface guards: the build fails if echo stops implementing them.
var (
	_ sdk.Codec = (*echo)(nil)
	_ sdk.Init  = (*echo)(nil)
)

// Init runs once, when the host loads the plugin, with the plugin's
// configuration bytes. An error here refuses the load, so a bad
// configuration fails at start instead of on the first message.
func (e *echo) Init(config []byte) error {
	e.maxText = defaultMaxText
	if len(bytes.TrimSpace(config)) == 0 {
		return nil // no configuration: the defaults
	}
	if !gjson.ValidBytes(config) || !sdk.Parse(config).IsObject() {
		return fmt.Errorf("echo: configuration must be a JSON object, got %q", config)
	}
	if v := sdk.Get(config, "max_text"); v.Exists() {
		if v.Type != gjson.Number || v.Int() < 1 {
			return fmt.Errorf("echo: max_text must be a positive number, got %s", v.Raw)
		}
		e.maxText = v.Int()
	}
	return nil
}

// DecodeRequest turns the client's body into a canonical batch of one text
// message:
//
//	{"v":1,"messages":[{"kind":"text","to":{"users":["alice"]},"text":"hi"}]}
//
// Every check names the field in the client's terms, so the client's error
// says what to fix.
func (e *echo) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	// gjson does not validate what it reads: check the body once.
	if !gjson.ValidBytes(req.Body) {
		return sdk.BadField("", "body is not valid JSON")
	}
	// sdk.Parse reads the body in place; gjson.ParseBytes would copy it.
	body := sdk.Parse(req.Body)
	if !body.IsObject() {
		return sdk.BadField("", "body must be a JSON object")
	}
	to := body.Get("to")
	if err := checkRecipients(to); err != nil {
		return err
	}
	text := body.Get("text")
	switch {
	case text.Type != gjson.String || text.Str == "":
		return sdk.BadField("text", "text is required and must be a string")
	case int64(len(text.Str)) > e.maxText:
		return sdk.Error(abi.CodeTooLarge, "text", "text is %d bytes, the limit is %d", len(text.Str), e.maxText)
	}
	from := body.Get("from")
	if from.Exists() && from.Type != gjson.String {
		return sdk.BadField("from", "from must be a string")
	}

	// The builder inserts commas and quotes; every Object/Array needs its
	// End. Value copies a gjson value as the client wrote it, without
	// decoding and re-encoding it.
	out.Object().KeyInt("v", 1).Key("messages").Array()
	out.Object()
	out.KeyString("kind", "text")
	out.OptValue("from", from) // Opt*: written only when not empty
	out.Key("to").Object().Key("users").Array()
	eachRecipient(to, func(user gjson.Result) { out.Value(user) })
	out.End().End() // users, to
	out.KeyValue("text", text)
	out.End()       // the message
	out.End().End() // messages, the batch
	return nil
}

// checkRecipients accepts "to" as one user or a non-empty list of users.
func checkRecipients(to gjson.Result) error {
	switch {
	case to.Type == gjson.String && to.Str != "":
		return nil
	case !to.IsArray():
		return sdk.BadField("to", "to is required: a user or a list of users")
	}
	n := 0
	var err error
	to.ForEach(func(_, user gjson.Result) bool {
		if user.Type != gjson.String || user.Str == "" {
			err = sdk.BadField(fmt.Sprintf("to[%d]", n), "a recipient must be a non-empty string")
			return false
		}
		n++
		return true
	})
	if err == nil && n == 0 {
		err = sdk.BadField("to", "to is an empty list")
	}
	return err
}

// eachRecipient calls fn with each user of a checked "to".
func eachRecipient(to gjson.Result, fn func(user gjson.Result)) {
	if !to.IsArray() {
		fn(to)
		return
	}
	to.ForEach(func(_, user gjson.Result) bool { fn(user); return true })
}

// EncodeRequest turns a canonical batch into provider requests: one per
// message and user. The tag of each request says which message and user it
// carries; the host hands it back with the provider's answer, which is how
// DecodeResponse knows what an answer is about.
func (e *echo) EncodeRequest(opts, batch []byte, out *sdk.Requests) error {
	// Route options: where to send, and who sends when a message does not
	// say. They come with every call, as JSON (`{}` when the route has none).
	path := "/echo"
	if p := sdk.Get(opts, "path"); p.Type == gjson.String && p.Str != "" {
		path = p.Str
	}
	sender := sdk.Get(opts, "sender")

	var err error
	i := 0
	sdk.Get(batch, "messages").ForEach(func(_, msg gjson.Result) bool {
		if err = encodable(i, msg); err != nil {
			return false
		}
		from := msg.Get("from")
		if from.Str == "" {
			from = sender
		}
		text := msg.Get("text")
		msg.Get("to.users").ForEach(func(_, user gjson.Result) bool {
			// Begin starts a request and returns a builder for its body,
			// written in place in the output: no copy.
			body := out.Begin("POST", path, "", "application/json")
			body.Object()
			body.OptValue("from", from)
			body.KeyValue("to", user)
			body.KeyValue("text", text)
			body.End()
			e.tag.Reset()
			e.tag.Object().KeyInt("message", int64(i)).KeyValue("to", user).End()
			out.End(e.tag.Bytes())
			return true
		})
		i++
		return true
	})
	return err
}

// encodable rejects what the echo provider cannot carry. A real codec
// would look at the route's "policy" option here and, when it says
// "degrade", send a documented fallback instead (see docs/canonical.md).
func encodable(i int, msg gjson.Result) error {
	if kind := msg.Get("kind").Str; kind != "text" {
		return sdk.Error(abi.CodeUnsupported, "", "echo carries text messages only; message %d is %q", i, kind)
	}
	to := msg.Get("to")
	for _, list := range [...]string{"groups", "rooms", "departments", "emails"} {
		if to.Get(list).Get("#").Int() > 0 {
			return sdk.Error(abi.CodeUnsupported, "", "echo sends to users only; message %d has %s", i, list)
		}
	}
	if to.Get("all").Type == gjson.True {
		return sdk.Error(abi.CodeUnsupported, "", "echo sends to users only; message %d is for everyone", i)
	}
	return nil
}

// DecodeResponse turns the provider's answers, one per request in the
// order EncodeRequest made them, into canonical results. A message is ok
// only when the provider said so: a 2xx answer.
func (e *echo) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	out.Object().KeyInt("v", 1).Key("results").Array()
	for i := 0; i < answers.Len(); i++ {
		a := answers.At(i)
		tag := sdk.Parse(a.Tag)
		out.Object()
		out.KeyValue("message", tag.Get("message"))
		out.KeyValue("to", tag.Get("to"))
		out.KeyString("to_type", "user")
		switch {
		case a.Status >= 200 && a.Status < 300:
			out.KeyBool("ok", true)
			out.OptValue("id", sdk.Get(a.Body, "id"))
		case a.Status == 0:
			// The request got no answer; the host describes why.
			t := a.Transport()
			out.KeyBool("ok", false)
			out.KeyString("code", string(t.Code))
			out.KeyString("error", t.Message)
		default:
			code := abi.CodeUpstream
			if a.Status == 429 {
				code = abi.CodeRateLimited
			}
			out.KeyBool("ok", false)
			out.KeyString("code", string(code))
			if msg := sdk.Get(a.Body, "error"); msg.Type == gjson.String {
				out.KeyValue("error", msg)
			}
			out.KeyInt("status", int64(a.Status))
		}
		out.End()
	}
	out.End().End() // results, the document
	return nil
}

// EncodeResponse answers the client. A request-level error (bad input,
// failed auth, no provider) becomes an HTTP error status with
// {"ok":false,"code":...}; otherwise the answer lists each recipient's
// outcome, and "ok" is true only if every one was accepted.
func (e *echo) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	res := sdk.Parse(results)
	if fail := res.Get("error"); fail.Exists() {
		code := fail.Get("code")
		out.Status = sdk.HTTPStatus(abi.Code(code.Str))
		out.Body.Object()
		out.Body.KeyBool("ok", false)
		out.Body.KeyValue("code", code)
		out.Body.OptValue("field", fail.Get("field"))
		out.Body.KeyValue("message", fail.Get("message"))
		out.Body.End()
		return nil
	}
	list := res.Get("results")
	allOK := list.Get("#").Int() > 0
	list.ForEach(func(_, r gjson.Result) bool {
		allOK = allOK && r.Get("ok").Type == gjson.True
		return allOK
	})
	out.Body.Object().KeyBool("ok", allOK).Key("results").Array()
	list.ForEach(func(_, r gjson.Result) bool {
		out.Body.Object()
		out.Body.KeyValue("to", r.Get("to"))
		out.Body.KeyBool("ok", r.Get("ok").Type == gjson.True)
		out.Body.OptValue("id", r.Get("id"))
		out.Body.OptValue("code", r.Get("code"))
		out.Body.OptValue("error", r.Get("error"))
		out.Body.End()
		return true
	})
	out.Body.End().End()
	return nil
}
