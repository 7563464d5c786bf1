// Command bench measures imrelay against the upstream it relays to and
// against the peers a team would run instead, side by side in one run on
// loopback: see README.md. It is a program, not a package: nothing
// imports it.
//
//	go run ./bench run -duration 10s -out bench/results
//	go run ./bench run -smoke
//
// The server roles (upstream, relay, goproxy, instmem) are the same binary
// started again by `run`, so that each target's CPU time and peak memory
// are its own process's.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench run [flags] | upstream | relay | goproxy | instmem")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runBench(os.Args[2:])
	case "upstream":
		err = runUpstream(os.Args[2:])
	case "relay":
		err = runRelay(os.Args[2:])
	case "goproxy":
		err = runGoProxy(os.Args[2:])
	case "instmem":
		err = runInstMem(os.Args[2:])
	default:
		err = fmt.Errorf("bench: unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
