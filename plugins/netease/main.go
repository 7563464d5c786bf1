// Command netease is imrelay's codec for the NetEase Yunxin (网易云信) IM
// server API: v2 conversation messages and v2 batch messages, and the v1
// msg/sendMsg.action and msg/sendBatchMsg.action forms. It decodes what
// NetEase clients send into canonical messages, encodes canonical messages
// into NetEase requests, and translates the answers both ways. The host
// verifies and adds the CheckSum headers: this codec never sees the
// AppSecret. See README.md.
package main

import "github.com/imrelay/imrelay/sdk"

func init() { sdk.RegisterCodec(&codec{}) }

func main() {}
