package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = boolTestFlag("update", "rewrite the golden files of the pair matrix")

// TestPairMatrix translates one text and one image request of every dialect
// into every dialect (5 × 5 × 2 cases) through the embedded wasm codecs and
// compares what `imrelay translate` prints with testdata/pairs/<from>-<to>-<kind>.golden.
// An error is part of the expected output: a pair that is rejected says why.
func TestPairMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("loads all five codecs into the wasm host")
	}
	ctx := context.Background()
	tr, err := newTranslator()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)

	outOpts := []byte(`{"policy":"reject","org":"acme","app":"chat","sender":"imrelay-bot"}`)
	for _, kind := range []string{"text", "image"} {
		for _, from := range dialects {
			src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pairs", "requests", from+"."+kind+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			req := parseRequest(src, from)
			for _, to := range dialects {
				name := fmt.Sprintf("%s-%s-%s", from, to, kind)
				t.Run(name, func(t *testing.T) {
					var got bytes.Buffer
					out, err := tr.translate(ctx, req, from, to, []byte("{}"), outOpts)
					if err != nil {
						fmt.Fprintf(&got, "error: %v\n", err)
					} else if err := printRequests(&got, to, out); err != nil {
						t.Fatal(err)
					}
					golden := filepath.Join("..", "..", "testdata", "pairs", name+".golden")
					if update() {
						if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatalf("%v (run with -update to create it)", err)
					}
					if !bytes.Equal(got.Bytes(), want) {
						t.Errorf("translate %s -> %s (%s) changed:\n--- want\n%s\n--- got\n%s", from, to, kind, want, got.Bytes())
					}
				})
			}
		}
	}
}

// TestTranslateCLI runs the command as a user would and checks the exit
// codes and the messages of its failures.
func TestTranslateCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("loads codecs into the wasm host")
	}
	src := filepath.Join("..", "..", "testdata", "pairs", "requests", "getsender.text.txt")
	cases := []struct {
		args     []string
		code     int
		stdout   string
		stderror string
	}{
		{[]string{"-from", "getsender", "-to", "netease", src}, 0, "POST /nimserver/im/v2/conversations/alice%7C1%7Cbob/messages", ""},
		{[]string{"-from", "getsender", "-to", "bogus", src}, 2, "", `-to "bogus": want one of`},
		{[]string{"-from", "getsender", "-to", "youdu", "-policy", "maybe", src}, 2, "", `-policy "maybe"`},
		{[]string{"-from", "netease", "-to", "youdu", src}, 1, "", "decode as netease"},
		{[]string{"-from", "getsender", "-to", "youdu", "no-such-file"}, 1, "", "no-such-file"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := doMain(append([]string{"translate"}, c.args...), &stdout, &stderr)
		if code != c.code {
			t.Errorf("translate %v: exit %d, want %d (stderr: %s)", c.args, code, c.code, stderr.String())
		}
		if !strings.Contains(stdout.String(), c.stdout) {
			t.Errorf("translate %v: stdout %q does not contain %q", c.args, stdout.String(), c.stdout)
		}
		if !strings.Contains(stderr.String(), c.stderror) {
			t.Errorf("translate %v: stderr %q does not contain %q", c.args, stderr.String(), c.stderror)
		}
	}
}
