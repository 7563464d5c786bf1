// Command youdu is imrelay's codec for the Youdu (有度) enterprise-app
// message API, `POST /cgi/msg/send`. It decodes what Youdu clients send
// into canonical messages, encodes canonical messages into Youdu requests,
// and translates the answers both ways. The host decrypts and encrypts the
// AES envelope and adds the access token: this codec sees plaintext JSON
// only. See README.md.
package main

import "github.com/imrelay/imrelay/sdk"

func init() { sdk.RegisterCodec(&codec{}) }

func main() {}
