package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHist checks the histogram's quantiles against exact ones: within its
// 1/64 resolution.
func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 100_000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 99900 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -1.0/64 || d > 1.0/64 {
			t.Errorf("q%.3f = %v, want %v within 1/64", c.q, got, c.want)
		}
	}
	for v := int64(0); v < 1<<20; v += 997 {
		i := bucketOf(v)
		if v < lowOf(i) || v > highOf(i) {
			t.Fatalf("%d in bucket %d [%d, %d]", v, i, lowOf(i), highOf(i))
		}
	}
}

// TestNativeTranslation checks that the Go peer sends what imrelay's codecs
// send for the same getsender text message (the pair's golden file).
func TestNativeTranslation(t *testing.T) {
	golden, err := os.ReadFile("../testdata/pairs/getsender-netease-text.golden")
	if err != nil {
		t.Fatal(err)
	}
	path, body, err := translateGetsender([]byte(`{"messageType":1,"from":"alice","userId":"bob","isDisturb":false,"messageInfo":{"msg":"hello 你好"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(golden), "POST /nimserver"+path+"\n") {
		t.Errorf("path %s is not the codec's:\n%s", path, golden)
	}
	var got, want map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(golden), "\n{")
	if err := json.Unmarshal([]byte("{"+rest), &want); err != nil {
		t.Fatal(err)
	}
	// The golden case carries a chat id the benchmark's message has not.
	delete(want, "extension")
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("body %s, codec sends %s", gb, wb)
	}
	ans, err := answerGetsender([]byte(`{"code":200,"msg":"","data":{"message_server_id":42}}`), time.Unix(1447856372, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":200,"message":"成功","data":{"getMessageId":"42"},"page":null,"foot":{"operationTime":"2015-11-18 22:19:32","servicePhone":"","host":"imrelay"}}`; string(ans) != want {
		t.Errorf("answer %s, want %s", ans, want)
	}
}

// TestUsage checks the /proc reader on this process.
func TestUsage(t *testing.T) {
	u, err := usage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakKB <= 0 {
		t.Errorf("peak RSS %d KiB", u.PeakKB)
	}
}
