// Package sdktest runs a plugin's golden cases natively and then against
// its built .wasm module, so the code a plugin author debugs with ordinary
// Go tools is proven to behave the same inside the relay.
//
// A plugin's test, in its own main package (whose init registers the
// codec), is one call:
//
//	func TestCases(t *testing.T) {
//		sdktest.Run(t, "testdata/cases", sdktest.Native(), sdktest.Wasm("echo.wasm"))
//	}
//
// Native runs each case through sdk.Dispatch in the test binary; Wasm loads
// the module with proxy/wasmhost, as the relay does, and runs the same
// cases. There is one subtest per target and per case file:
// TestCases/native/decode_request/basic, TestCases/wasm/decode_request/basic.
// `go test -run TestCases -update` rewrites the expected outputs from what
// the first target returns.
//
// Check runs cases against a target without a testing.T and returns one
// Result per case: `imrelay plugin test FILE.wasm CASES` is LoadCases,
// Check(Wasm(file), cases) and a summary.
//
// # Case files
//
// One case per file, anywhere under the case directory, named *.txt
// (testdata/cases/<hook>/<name>.txt reads best). A file is comment lines
// followed by sections, each starting with a line "-- name --". A section's
// value is its text without the final newline.
//
//	# A client sends one text to one user.
//	-- hook --
//	decode_request
//	-- options --
//	{"policy": "reject"}
//	-- body --
//	{"to": "alice", "text": "hi"}
//	-- want --
//	{
//	  "v": 1,
//	  "messages": [ ... ]
//	}
//
// The sections:
//
//	hook          decode_request, encode_request, decode_response,
//	              encode_response, transform, or init (runs the plugin's
//	              Init with config, and nothing else). Default: the name
//	              of the directory holding the file.
//	config        the plugin's configuration bytes, given at load (default
//	              empty). Natively sdk.Initialize runs before every case.
//	options       the route's options, JSON (default {}).
//	method, path, query, content-type, body
//	              decode_request's inputs (defaults POST, /, empty,
//	              application/json, empty). The body is passed byte for byte.
//	batch         the canonical batch of the other hooks.
//	responses     decode_response's provider answers, separated by lines
//	              "===". Each answer is header lines (status: 200, tag: ...,
//	              content-type: ...; defaults 200, empty, application/json),
//	              a blank line and the body. Status 0 means no answer; its
//	              body is then the host's error document.
//	results, client-body
//	              encode_response's inputs.
//	want          the expected output (see below).
//	want-error    the expected guest error, a JSON object: code and field
//	              must be equal; message matches when the wanted text is
//	              part of the actual message (so a case can pin the
//	              important words only). An empty message matches any.
//
// options, batch and results are compacted before they are sent, as the
// host sends them, when they are valid JSON; invalid JSON is passed as
// written so a case can test bad input.
//
// # Expected outputs
//
// decode_request, decode_response and transform outputs are JSON,
// compared parsed: key order and spacing do not matter, numbers are
// compared as written. encode_request's output is one block per provider
// request, with a line "===" between them:
//
//	POST /messages?x=1
//	content-type: application/json
//	tag: {"message":0}
//
//	{"to": "alice"}
//
// encode_response's output is one block:
//
//	status: 200
//	content-type: application/json;charset=UTF-8
//
//	{"ok": true}
//
// Request lines and headers are compared as text, bodies parsed when both
// sides are JSON. A header value is written in Go's double-quoted form when
// it is empty, starts with a quote, has spaces at either end or is not
// printable. On a mismatch the test prints a line diff of the two
// renderings (-want +got).
package sdktest
