// Command easemob is the imrelay codec plugin for the Easemob (环信) REST
// message API: the current endpoints /{org}/{app}/messages/users,
// /messages/chatgroups and /messages/chatrooms, and the legacy
// /{org}/{app}/messages with target_type. It decodes what an Easemob client
// sends into canonical messages, encodes canonical messages into Easemob
// requests (split at Easemob's per-call limits), and translates the answers
// both ways. See README.md.
package main

import "github.com/imrelay/imrelay/sdk"

func init() { sdk.RegisterCodec(&codec{}) }

// main is never called in wasm: the host calls the SDK's exports.
func main() {}
