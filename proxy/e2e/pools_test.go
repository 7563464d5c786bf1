package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imrelay/imrelay/proxy/config"
)

// TestSmallPoolsDoNotDeadlock runs many concurrent requests on a route with
// two codecs whose pools hold one instance each. A request that held one
// codec's instance while waiting for the other's would deadlock against a
// request taking them in the opposite order (decode → encode on the way in,
// decode answers → encode the reply on the way out) until its deadline.
func TestSmallPoolsDoNotDeadlock(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Plugins.PoolSize = 1
		c.Limits.RequestTimeout = 20 * time.Second
	})
	const n = 16
	var wg sync.WaitGroup
	answers := make([]answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcpt := fmt.Sprintf("pool%02d", i)
			path, body := textRequest(config.Getsender, rcpt, "hi")
			answers[i] = e.send(config.Getsender, config.Netease, good, path, body)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if !accepted(config.Getsender, a, fmt.Sprintf("pool%02d", i)) {
			t.Errorf("request %d: %d %s", i, a.status, a.body)
		}
	}
	for i := range n {
		if got := e.inbox(config.Netease, fmt.Sprintf("pool%02d", i)); len(got) != 1 {
			t.Errorf("pool%02d received %d messages, want 1", i, len(got))
		}
	}
}
