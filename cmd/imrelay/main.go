// Command imrelay is the relay, its vendor sandbox and its tools.
//
//	imrelay serve [-config FILE]    run the relay (no config: the embedded default)
//	imrelay sandbox                 run the vendor emulators on loopback
//	imrelay translate -from X -to Y preview the provider requests a payload becomes
//	imrelay report [-admin ADDR]    print a running relay's migration counts
//	imrelay version                 print the version and the plugin ABI
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/imrelay/imrelay/sdk/abi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(doMain(os.Args[1:], os.Stdout, os.Stderr))
}

// commands maps each subcommand to its runner. Every runner takes the
// arguments after its name and returns the process exit code.
var commands = map[string]struct {
	run     func(args []string, stdout, stderr io.Writer) int
	summary string
}{
	"serve":     {runServe, "run the relay (without -config: the embedded default with in-process vendor emulators)"},
	"sandbox":   {runSandbox, "run the five vendor emulators on loopback and print their addresses and credentials"},
	"translate": {runTranslate, "print the provider requests a client payload becomes, without sending anything"},
	"version":   {runVersion, "print the version and the plugin ABI version"},
	"report":    {runReport, "print a running relay's migration report: shadow readiness, mirror divergence, split"},
	"plugin":    {runPlugin, "scaffold, build and test plugins: plugin new NAME | build DIR | test FILE.wasm CASES"},
}

// doMain is main without the process: the CLI's tests call it directly.
func doMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "imrelay: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

// flagExit is a command's exit code when its flags do not parse: 0 for
// -h (the flag package has printed the usage), 2 for a bad flag.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: imrelay <command> [flags]")
	fmt.Fprintln(w)
	for _, name := range []string{"serve", "sandbox", "translate", "report", "plugin", "version"} {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'imrelay <command> -h' for the flags of a command.")
}

func runVersion(args []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "imrelay %s (plugin ABI v%d)\n", version, abi.Version)
	return 0
}
