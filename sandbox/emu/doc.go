// Package emu is the core every imrelay sandbox emulator is built on.
//
// An emulator (sandbox/easemob, sandbox/netease, …) speaks one vendor's API
// and leaves three shared concerns to this package:
//
//   - an [Inbox] of the messages the emulator accepted, so tests and people
//     can see what arrived;
//   - [Faults], knobs set at run time that make the emulator slow, flaky,
//     rate limited, forgetful of tokens or rude (dropped connections);
//   - the admin HTTP surface under [Prefix] and a small [Server] harness.
//
// A vendor builds a [Core] with [New], writes its API as a
// fasthttp.RequestHandler, and wraps it with [Core.Handler], passing the
// [Answers] that say how the vendor reports an internal error and a rate
// limit. Inside its handler it records accepted messages with
// Core.Inbox.Add, asks Core.Faults.TakeExpiry when it checks a token, and
// may ask Core.Faults.TakeMessages or Core.Faults.Fail for per-message
// limits and failures.
//
//	core := emu.New(emu.Config{Vendor: "easemob", Seed: 1})
//	h := core.Handler(api, emu.Answers{Internal: internalErr, Limited: tooMany}, info)
//	srv, err := emu.Start("127.0.0.1:0", h)
//
// The admin surface, identical for every vendor:
//
//	GET    /_sandbox/inbox[?to=ID&since=SEQ&type=T]  accepted messages, oldest first
//	DELETE /_sandbox/inbox                           forget them
//	GET    /_sandbox/faults                          current fault settings
//	PUT    /_sandbox/faults                          replace them (JSON, see [Faults])
//	DELETE /_sandbox/faults                          back to no faults
//	GET    /_sandbox/stats                           faults injected so far
//	GET    /_sandbox/info                            the vendor's credentials and notes
//
// Admin calls never see faults. Every randomness the faults use comes from
// one generator seeded by [Config.Seed], and every time from [Config.Now],
// so tests are deterministic.
package emu
