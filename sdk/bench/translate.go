// Package bench measures what the SDK costs in wasm against the same code
// run natively, and against the way a plugin is usually written without
// it. Its codec translates a realistic 1 KB business message (sample.json)
// into a canonical batch twice over:
//
//   - the SDK way: the body is validated once and read in place in one
//     pass (sdk.Parse, sdk.Fields), values are copied without decoding
//     (JSON.Value), and the SDK's builder writes into a reused buffer;
//   - the naive way: gjson.GetBytes reads (a copy per value) and
//     sjson.SetBytes writes (the document re-scanned and re-allocated for
//     every field).
//
// The route option {"impl": "naive"} selects the second. testdata/translate
// builds the same codec into translate.wasm, so the benchmarks run one
// source natively (sdk.Dispatch) and in the relay's host, and print each
// wasm figure beside its native baseline. The memory test in this package
// runs the SDK way 100,000 times on one instance and asserts the guest's
// linear memory stays under 16 MiB.
package bench

import (
	_ "embed"
	"strconv"

	"github.com/imrelay/imrelay/sdk"
	"github.com/imrelay/imrelay/sdk/abi"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Sample is the 1 KB client body the benchmarks translate.
//
//go:embed sample.json
var Sample []byte

// Translator is the benchmark codec. Only DecodeRequest does work; the other
// hooks answer with an empty document so the module is a complete codec.
type Translator struct {
	naive []byte // the naive output, kept between calls as a plugin would
}

var _ sdk.Codec = (*Translator)(nil)

// DecodeRequest translates the client body, the SDK way or, with the route
// option {"impl":"naive"}, the naive way.
//
// Two more options serve the package's tests of the SDK in wasm: "probe"
// logs a line and answers {"config": <the plugin's configuration>}, and
// "panic" panics.
func (t *Translator) DecodeRequest(req *sdk.Request, out *sdk.JSON) error {
	switch sdk.Get(req.Options, "impl").Str {
	case "naive":
		b, err := t.decodeNaive(req.Body)
		if err != nil {
			return err
		}
		out.Raw(b)
		return nil
	case "probe":
		sdk.Logf(abi.LogInfo, "probe: %d bytes of configuration", len(sdk.Config()))
		out.Object().Key("config").StringBytes(sdk.Config()).End()
		return nil
	case "panic":
		var counts map[string]int
		counts["calls"]++ // assignment to a nil map
	}
	return decodeSDK(req.Body, out)
}

// fields are the members of the client body the translation reads.
var fields = []string{"messageType", "fromUser", "toUsers", "toGroups", "content", "isDisturb", "pushText", "ext", "msgId"}

// decodeSDK is the translation written with the SDK: the body is validated
// once and read in one pass (sdk.Fields), values are copied as they are
// (Value), and the output goes into the SDK's reused buffer.
func decodeSDK(body []byte, out *sdk.JSON) error {
	if !gjson.ValidBytes(body) {
		return sdk.BadField("", "body is not valid JSON")
	}
	var v [9]gjson.Result
	sdk.Fields(sdk.Parse(body), fields, v[:])
	mt, from, users, groups, content, disturb, push, ext, id := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
	if n := mt.Int(); n < 1 || n > 10 {
		return sdk.BadField("messageType", "messageType must be 1..10")
	}
	out.Object().KeyInt("v", 1).Key("messages").Array()
	out.Object()
	out.KeyString("kind", "text")
	out.OptValue("from", from)
	out.Key("to").Object()
	out.Key("users").Array()
	users.ForEach(func(_, u gjson.Result) bool { out.Value(u); return true })
	out.End()
	out.Key("groups").Array()
	groups.ForEach(func(_, g gjson.Result) bool { out.Value(g); return true })
	out.End()
	out.End()
	out.KeyValue("text", content)
	out.Key("options").Object()
	out.OptBool("silent", disturb.Type == gjson.False)
	out.OptValue("push_text", push)
	out.End()
	out.OptValue("ext", ext)
	out.OptValue("id", id)
	out.End()
	out.End().End()
	return nil
}

// decodeNaive is the same translation as a plugin author writes it without
// the SDK's helpers.
func (t *Translator) decodeNaive(body []byte) ([]byte, error) {
	if !gjson.ValidBytes(body) {
		return nil, sdk.BadField("", "body is not valid JSON")
	}
	mt := gjson.GetBytes(body, "messageType").Int()
	if mt < 1 || mt > 10 {
		return nil, sdk.BadField("messageType", "messageType must be 1..10")
	}
	out := []byte(`{}`)
	var err error
	set := func(path string, v any) {
		if err == nil {
			out, err = sjson.SetBytes(out, path, v)
		}
	}
	setRaw := func(path, raw string) {
		if err == nil {
			out, err = sjson.SetRawBytes(out, path, []byte(raw))
		}
	}
	set("v", 1)
	set("messages.0.kind", "text")
	if from := gjson.GetBytes(body, "fromUser").String(); from != "" {
		set("messages.0.from", from)
	}
	setRaw("messages.0.to.users", "[]")
	for i, u := range gjson.GetBytes(body, "toUsers").Array() {
		set("messages.0.to.users."+strconv.Itoa(i), u.String())
	}
	setRaw("messages.0.to.groups", "[]")
	for i, g := range gjson.GetBytes(body, "toGroups").Array() {
		set("messages.0.to.groups."+strconv.Itoa(i), g.String())
	}
	set("messages.0.text", gjson.GetBytes(body, "content").String())
	setRaw("messages.0.options", "{}")
	if gjson.GetBytes(body, "isDisturb").Type == gjson.False {
		set("messages.0.options.silent", true)
	}
	if push := gjson.GetBytes(body, "pushText").String(); push != "" {
		set("messages.0.options.push_text", push)
	}
	if ext := gjson.GetBytes(body, "ext"); ext.IsObject() {
		setRaw("messages.0.ext", ext.Raw)
	}
	if id := gjson.GetBytes(body, "msgId").String(); id != "" {
		set("messages.0.id", id)
	}
	if err != nil {
		return nil, sdk.Error(abi.CodeInternal, "", "bench: %v", err)
	}
	t.naive = out
	return out, nil
}

// EncodeRequest makes no request.
func (t *Translator) EncodeRequest(opts, batch []byte, out *sdk.Requests) error { return nil }

// DecodeResponse answers an empty results document.
func (t *Translator) DecodeResponse(opts, batch []byte, answers *sdk.Answers, out *sdk.JSON) error {
	out.Object().KeyInt("v", 1).Key("results").Array().End().End()
	return nil
}

// EncodeResponse answers 200 with {}.
func (t *Translator) EncodeResponse(opts, batch, results, clientBody []byte, out *sdk.Reply) error {
	out.Body.Object().End()
	return nil
}
