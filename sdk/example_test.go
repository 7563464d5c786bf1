package sdk_test

import (
	"fmt"

	"github.com/imrelay/imrelay/sdk"
)

// Build a canonical batch: the builder writes commas and quotes, escapes
// strings, and each Object or Array is closed by End.
func ExampleJSON() {
	var out sdk.JSON
	out.Object().KeyInt("v", 1).Key("messages").Array()
	out.Object()
	out.KeyString("kind", "text")
	out.Key("to").Object().Key("users").Array().String("alice").String("bob").End().End()
	out.KeyString("text", `say "hi" <b>`)
	out.End()
	out.End().End()
	fmt.Println(string(out.Bytes()))
	// Output:
	// {"v":1,"messages":[{"kind":"text","to":{"users":["alice","bob"]},"text":"say \"hi\" \u003cb\u003e"}]}
}

// Copy values from the input without decoding them: Value writes a gjson
// result as the client wrote it (escapes included), and null when it is
// missing or not valid JSON, so the output stays valid whatever came in.
func ExampleJSON_Value() {
	body := []byte(`{"to":"alice","text":"caf\u00e9","ext":{"trace":[1,2]},"bad":nul}`)
	in := sdk.Parse(body) // reads the body in place, no copy

	var out sdk.JSON
	out.Object()
	out.KeyValue("text", in.Get("text"))
	out.KeyValue("ext", in.Get("ext"))
	out.KeyValue("bad", in.Get("bad"))
	out.KeyValue("missing", in.Get("missing"))
	out.End()
	fmt.Println(string(out.Bytes()))
	// Output:
	// {"text":"caf\u00e9","ext":{"trace":[1,2]},"bad":null,"missing":null}
}

// The Opt* methods write a member only when its value is not empty, as the
// canonical model asks of encoders.
func ExampleJSON_OptString() {
	from, pushText := "", "you have mail"
	var out sdk.JSON
	out.Object()
	out.OptString("from", from)
	out.OptString("push_text", pushText)
	out.OptInt("size", 0)
	out.OptBool("silent", true)
	out.OptValue("ext", sdk.Get([]byte(`{"ext":{}}`), "ext"))
	out.End()
	fmt.Println(string(out.Bytes()))
	// Output:
	// {"push_text":"you have mail","silent":true}
}

// The builder escapes what could break a JSON document, a log line or an
// HTML page: quotes, control characters, <, >, &, U+2028 and U+2029, and
// replaces invalid UTF-8 with U+FFFD.
func ExampleJSON_String() {
	var out sdk.JSON
	out.Array()
	out.String("tab\there")
	out.String("a\u2028b")
	out.String("bad \xff byte")
	out.String("x < y && y > z")
	out.End()
	fmt.Println(string(out.Bytes()))
	// Output:
	// ["tab\there","a\u2028b","bad \ufffd byte","x \u003c y \u0026\u0026 y \u003e z"]
}
