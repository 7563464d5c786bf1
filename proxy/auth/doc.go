// Package auth implements the credential schemes of the IM vendors imrelay
// speaks, for both sides of the wire: the relay signs and encrypts what it
// sends to a provider and verifies what its clients send, and the sandbox
// emulators verify and answer exactly like the vendors do.
//
// The package is a leaf: it depends on the standard library only, so that the
// relay and the sandbox can share one implementation of every scheme.
//
// # NetEase Yunxin
//
// Every request carries the headers AppKey, Nonce, CurTime and CheckSum, where
// CheckSum is the lowercase hex SHA-1 of AppSecret+Nonce+CurTime. [CheckSum]
// and [AppendCheckSum] compute it; [CheckSumVerifier] checks a request,
// including the validity window of CurTime.
//
// # Youdu
//
// Every body is an AES-256-CBC envelope keyed by the app's EncodingAESKey,
// with a 16-byte random prefix, a 4-byte big-endian length, the message, the
// app id and a PKCS#7-style padding to 32 bytes. [Cipher] caches the AES block
// for one key and offers allocating and append-style variants of
// [Cipher.Encrypt] and [Cipher.Decrypt].
//
// # Tokens
//
// [EqualToken] compares bearer and access tokens in constant time;
// [NewToken] and [NewNonce] draw fresh random values.
package auth
