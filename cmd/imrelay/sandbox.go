package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/imrelay/imrelay/sandbox"
	"github.com/imrelay/imrelay/sandbox/emu"
)

// runSandbox implements `imrelay sandbox`: it starts every vendor emulator,
// prints each one's address, credentials and an example call, and serves
// until SIGINT or SIGTERM.
func runSandbox(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveSandbox(ctx, args, stdout, stderr)
}

// serveSandbox is runSandbox until ctx is done (tests cancel it).
func serveSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imrelay sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "listen `host` for every vendor")
	ports := fs.String("ports", "", "fixed ports, e.g. `easemob=7001,opapp=7002`; others get a free port")
	seed := fs.Int64("seed", 1, "seed of the fault generators")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imrelay sandbox [-host H] [-ports vendor=port,...] [-seed N]\n\n"+
			"Starts the vendor emulators (%s) and serves until interrupted.\n"+
			"Each one also serves its inbox and faults under %s.\n\n", strings.Join(sandbox.Names, ", "), emu.Prefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imrelay sandbox: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	pm, err := parsePorts(*ports)
	if err != nil {
		fmt.Fprintf(stderr, "imrelay sandbox: -ports: %v\n", err)
		return 2
	}
	if ip := net.ParseIP(*host); (ip == nil && *host != "localhost") || (ip != nil && !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "imrelay sandbox: warning: %s is not a loopback address: anyone who reaches it can use the demo credentials\n", *host)
	}

	sb, err := sandbox.Start(sandbox.Config{Host: *host, Ports: pm, Seed: *seed})
	if err != nil {
		fmt.Fprintf(stderr, "imrelay sandbox: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "imrelay sandbox: %d vendors on %s, fault seed %d. Ctrl-C stops.\n", len(sb.Vendors), *host, *seed)
	fmt.Fprintf(stdout, "Every vendor also serves GET %sinbox[?to=ID], DELETE %sinbox, GET|PUT|DELETE %sfaults, GET %sinfo.\n",
		emu.Prefix, emu.Prefix, emu.Prefix, emu.Prefix)
	for _, v := range sb.Vendors {
		cred, _ := json.Marshal(v.Info)
		fmt.Fprintf(stdout, "\n%-10s %s\n  credentials: %s\n  try: %s\n", v.Name, v.URL, cred, v.Example)
	}

	<-ctx.Done()
	fmt.Fprintln(stdout, "\nimrelay sandbox: stopping")
	if err := sb.Stop(); err != nil {
		fmt.Fprintf(stderr, "imrelay sandbox: %v\n", err)
		return 1
	}
	return 0
}

// parsePorts reads "easemob=7001,opapp=7002".
func parsePorts(s string) (map[string]int, error) {
	pm := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return pm, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, port, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want vendor=port", kv)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("%q: port must be 0..65535", kv)
		}
		pm[strings.TrimSpace(name)] = p
	}
	return pm, nil
}
