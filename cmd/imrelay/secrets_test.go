package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imrelay/imrelay/sandbox"
	"github.com/imrelay/imrelay/sandbox/easemob"
	"github.com/imrelay/imrelay/sandbox/getsender"
	"github.com/imrelay/imrelay/sandbox/opapp"
)

// TestTranslatePrintsNoSecret runs `imrelay translate` for every pair and
// searches its output for the credentials of the embedded default (the
// sandbox's demo accounts): a preview shows where credentials go, never
// their values.
func TestTranslatePrintsNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("loads codecs into the wasm host")
	}
	secrets := []string{easemob.DemoClientSecret, getsender.DemoToken, opapp.DemoChannel, sandbox.DemoNetEaseAppSecret, sandbox.DemoYouduKey}
	var out bytes.Buffer
	ok := 0
	for _, from := range dialects {
		src := filepath.Join("..", "..", "testdata", "pairs", "requests", from+".text.txt")
		for _, to := range dialects {
			var stdout, stderr bytes.Buffer
			// Failures count too: an error message must not carry a secret
			// either (easemob needs its org and app, so it fails here).
			if doMain([]string{"translate", "-from", from, "-to", to, "-policy", "degrade", src}, &stdout, &stderr) == 0 {
				ok++
			}
			out.Write(stdout.Bytes())
			out.Write(stderr.Bytes())
		}
	}
	if ok < 16 {
		t.Fatalf("only %d pairs translated: the search would prove little", ok)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("a demo secret is empty: the search would prove nothing")
		}
		if strings.Contains(out.String(), s) {
			t.Errorf("translate output contains the secret %q", s)
		}
	}
}
