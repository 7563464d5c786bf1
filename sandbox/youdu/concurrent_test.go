package youdu

import (
	"strconv"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// Concurrent gettoken and send calls: every token distinct, every message
// accepted.
func TestConcurrentTokensAndSends(t *testing.T) {
	h := newHarness(t, nil)
	const workers, each = 8, 5
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens = map[string]bool{}
	)
	fail := make(chan string, workers*each*2)
	c := cipherOf(t, testApp) // shared: a YouduCipher is safe for concurrent use
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				enc, _ := c.Encrypt([]byte(strconv.FormatInt(t0.Unix(), 10)), testApp)
				a, err := h.try("POST", "/cgi/gettoken", envelopeJSON(testBuin, testApp, enc), "")
				if err != nil || a.json.Get("errcode").Int() != 0 {
					fail <- a.body
					continue
				}
				msg, _, _ := c.Decrypt(a.json.Get("encrypt").Str)
				tok := gjson.GetBytes(msg, "accessToken").Str
				mu.Lock()
				tokens[tok] = true
				mu.Unlock()
				enc, _ = c.Encrypt([]byte(textPayload("alice", "x")), testApp)
				a, err = h.try("POST", "/cgi/msg/send?accessToken="+tok, envelopeJSON(testBuin, testApp, enc), "")
				if err != nil || a.json.Get("errcode").Int() != 0 {
					fail <- a.body
				}
			}
		}()
	}
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Fatalf("failed call: %s", f)
	}
	if len(tokens) != workers*each || len(h.inbox()) != workers*each {
		t.Fatalf("%d tokens, %d messages; want %d each", len(tokens), len(h.inbox()), workers*each)
	}
}
