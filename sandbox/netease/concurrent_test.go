package netease

import (
	"sync"
	"testing"
)

// Concurrent sends of every kind: all accepted, ids unique.
func TestConcurrentSends(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BatchCallsPerMinute = -1 })
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var a answer
				var err error
				switch (w + i) % 3 {
				case 0:
					a, err = h.try(call{uri: "/nimserver/msg/sendMsg.action", body: textForm().Encode()})
				case 1:
					a, err = h.try(call{uri: "/im/v2/conversations/alice%7C1%7Cbob/messages", body: v2Text})
				default:
					a, err = h.try(call{uri: "/nimserver/msg/sendBatchMsg.action", body: batchForm("bob").Encode()})
				}
				if err != nil || a.json.Get("code").Int() != CodeOK {
					errs <- a.body
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("failed call: %s", e)
	}
	in := h.inbox()
	seen := map[string]bool{}
	for _, m := range in {
		if seen[m.ID] {
			t.Fatalf("id %s repeated", m.ID)
		}
		seen[m.ID] = true
	}
	if len(in) != workers*each {
		t.Fatalf("inbox holds %d, want %d", len(in), workers*each)
	}
}
