// Command opapp is the imrelay codec plugin for the opapp batch relay API,
// POST /opapp/send2EasemobMessage: a list of Easemob-style messages, each
// to one user or one group, answered with code 200, or code 500 and the
// messages that failed. It decodes what an opapp client sends into
// canonical messages, encodes canonical messages into opapp batches, and
// translates the answers both ways. See README.md.
package main

import "github.com/imrelay/imrelay/sdk"

func init() { sdk.RegisterCodec(&codec{}) }

// main is never called in wasm: the host calls the SDK's exports.
func main() {}
