package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsExample loads the complete example of docs/config.md, so the
// reference cannot drift from the loader.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete example")
	if !ok {
		t.Fatal("docs/config.md has no complete example")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the example is not a yaml block")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "netease-clients.secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(file, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EASEMOB_CLIENT_SECRET", "x")
	t.Setenv("GETSENDER_CLIENT_TOKEN", "y")
	t.Setenv("YOUDU_CLIENTS_AES_KEY", "AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ=")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 3 || c.Routes[0].Auth.AppSecret.Value() != "s3cret" {
		t.Errorf("example loaded as %+v", c.Routes)
	}
}
