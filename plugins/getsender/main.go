// Command getsender is the imrelay codec plugin for the getsender "message
// sending center" API, POST /sender/v1/handleBusinessMessage: one business
// message (messageType 1–10) to one user, answered with
// {"code":200,"message":"成功","data":{"getMessageId":"..."},...}. It
// decodes what a getsender client sends into a canonical message, encodes
// canonical messages into getsender requests, and translates the answers
// both ways. See README.md, whose Assumptions section lists what the
// missing messageInfo pages would have said.
package main

import "github.com/imrelay/imrelay/sdk"

func init() { sdk.RegisterCodec(&codec{}) }

// main is never called in wasm: the host calls the SDK's exports.
func main() {}
