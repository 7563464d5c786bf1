package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/imrelay/imrelay/sandbox"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEmbeddedDefaultCurlLines does what the README asks of a new user:
// run `imrelay serve`, paste each printed command into a shell, and find
// the messages in the target's sandbox inbox.
func TestEmbeddedDefaultCurlLines(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sha1sum", "od", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s to run the printed commands", tool)
		}
	}
	for _, target := range sandbox.Names {
		t.Run(target, func(t *testing.T) { pasteCurlLines(t, target) })
	}
}

func pasteCurlLines(t *testing.T, target string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	ready := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-listen", "127.0.0.1:0", "-target", target}, &stdout, &stderr, ready)
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not get ready")
	}

	out := stdout.String()
	snippets := map[string][]string{}
	var inboxURL, current string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Messages that arrive there:"):
			inboxURL = strings.TrimSpace(line[strings.LastIndex(line, " "):])
		case strings.HasPrefix(line, "# ") && strings.HasSuffix(line, " client"):
			current = strings.TrimSuffix(strings.TrimPrefix(line, "# "), " client")
		case current != "" && line != "" && !strings.HasPrefix(line, "#"):
			snippets[current] = append(snippets[current], line)
		}
	}
	if len(snippets) != 5 || inboxURL == "" {
		t.Fatalf("printed %d client examples and inbox %q:\n%s", len(snippets), inboxURL, out)
	}
	for dialect, lines := range snippets {
		ans, err := exec.Command("bash", "-c", strings.Join(lines, "\n")).Output()
		if err != nil {
			t.Fatalf("%s: %v", dialect, err)
		}
		body := string(ans)
		ok := gjson.Get(body, "code").Int() == 200 || // getsender, opapp, netease
			(gjson.Get(body, "errcode").Exists() && gjson.Get(body, "errcode").Int() == 0) || // youdu
			gjson.Get(body, "data.bob").Exists() // easemob
		if dialect == "opapp" && gjson.Get(body, "code").Int() != 200 {
			ok = false // opapp's partial failure also has a code: only 200 is success
		}
		if !ok {
			t.Errorf("%s: the pasted command got %s", dialect, body)
		}
	}
	inbox, err := exec.Command("curl", "-s", inboxURL).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := gjson.GetBytes(inbox, "messages.#").Int(); n != 5 {
		t.Errorf("the target's inbox has %d messages, want one per client dialect: %s", n, inbox)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d after the signal: %s", code, stderr.String())
	}
}
