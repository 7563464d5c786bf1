package migrate

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Key
		err  bool
	}{
		{"", KeyRecipient, false},
		{"sender", KeySender, false},
		{"recipient", KeyRecipient, false},
		{"conversation", KeyConversation, false},
		{"group", "", true},
		{"Sender", "", true},
	} {
		got, err := ParseKey(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil {
			for _, name := range []string{"sender", "recipient", "conversation", strconv.Quote(tc.in)} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("ParseKey(%q) error %q does not name %s", tc.in, err, name)
				}
			}
		}
	}
}

func TestAppendKey(t *testing.T) {
	for _, tc := range []struct {
		k                Key
		from, toType, id string
		want             string
	}{
		{KeySender, "alice", "user", "bob", "alice"},
		{KeySender, "", "group", "g1", ""},
		{KeyRecipient, "alice", "user", "bob", "user:bob"},
		{KeyRecipient, "alice", "all", "", "all:"},
		{KeyConversation, "alice", "user", "bob", "users:alice\x00bob"},
		{KeyConversation, "bob", "user", "alice", "users:alice\x00bob"},
		{KeyConversation, "alice", "group", "g1", "group:g1"},
		{KeyConversation, "", "user", "bob", "users:\x00bob"},
		{Key("other"), "alice", "room", "r1", "room:r1"},
	} {
		got := string(AppendKey([]byte("prefix-"), tc.k, tc.from, tc.toType, tc.id))
		if got != "prefix-"+tc.want {
			t.Errorf("AppendKey(%s, %q, %q, %q) = %q, want %q", tc.k, tc.from, tc.toType, tc.id, got, "prefix-"+tc.want)
		}
	}
}

// TestConversationSymmetry checks that both directions of a 1:1 chat hash
// alike, and that a group conversation is keyed by the group alone.
func TestConversationSymmetry(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		a, b := strconv.Itoa(r.IntN(1e6)), strconv.Itoa(r.IntN(1e6))
		ab := AppendKey(nil, KeyConversation, a, "user", b)
		ba := AppendKey(nil, KeyConversation, b, "user", a)
		if string(ab) != string(ba) || Bucket(ab) != Bucket(ba) {
			t.Fatalf("conversation %s→%s keys %q, %s→%s %q", a, b, ab, b, a, ba)
		}
		g1 := AppendKey(nil, KeyConversation, a, "group", b)
		g2 := AppendKey(nil, KeyConversation, b, "group", b)
		if string(g1) != string(g2) {
			t.Fatalf("group conversation depends on the sender: %q vs %q", g1, g2)
		}
	}
	// Concatenation must not make different pairs collide.
	if string(AppendKey(nil, KeyConversation, "ab", "user", "c")) == string(AppendKey(nil, KeyConversation, "a", "user", "bc")) {
		t.Error("pairs (ab,c) and (a,bc) share a key")
	}
}

// fnvBucket is an independent oracle for Bucket: the standard library's
// FNV-1a, mixed by MurmurHash3's fmix64 and scaled as documented.
func fnvBucket(key []byte) uint32 {
	h := fnv.New64a()
	h.Write(key)
	x := h.Sum64()
	for _, m := range []uint64{0xff51afd7ed558ccd, 0xc4ceb9fe1a85ec53, 0} {
		x ^= x >> 33
		x *= max(m, 1)
	}
	hi, _ := bits.Mul64(x, Buckets)
	return uint32(hi)
}

// TestSequentialIDsSpread: ids that differ only in their last characters
// (how most systems number users) spread like random keys. Plain FNV-1a
// scaled by its high bits put "sp00000".."sp00009" in one bucket and a
// 50/50 split at 54/46.
func TestSequentialIDsSpread(t *testing.T) {
	for _, pattern := range []string{"user-%d", "u%d", "%d", "1482380382694%05d", "sp%05d"} {
		s, err := NewSplit([]int{50, 50})
		if err != nil {
			t.Fatal(err)
		}
		n, seen := 0, map[uint32]bool{}
		for i := range 10000 {
			b := Bucket(AppendKey(nil, KeyRecipient, "", "user", fmt.Sprintf(pattern, i)))
			seen[b] = true
			n += s.Leg(b)
		}
		if share := float64(n) / 100; share < 49 || share > 51 {
			t.Errorf("%s: leg 1 got %.2f%% of 10000 sequential ids, want 50%% ±1", pattern, share)
		}
		if len(seen) < 6000 { // 10000 keys in 10000 buckets fill ~63%
			t.Errorf("%s: 10000 sequential ids use only %d buckets", pattern, len(seen))
		}
	}
}

func TestBucketMatchesFNV(t *testing.T) {
	keys := []string{"", "a", "user:bob", "group:g1", "users:alice\x00bob", "all:", "用户:张三", strings.Repeat("x", 1000)}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		got, want := Bucket([]byte(k)), fnvBucket([]byte(k))
		if got != want {
			t.Fatalf("Bucket(%q) = %d, want %d", k, got, want)
		}
		if got >= Buckets {
			t.Fatalf("Bucket(%q) = %d, out of range", k, got)
		}
	}
}

func TestNewSplitErrors(t *testing.T) {
	for _, w := range [][]int{nil, {}, {0}, {0, 0}, {50, -1}, {-5, 10}} {
		if s, err := NewSplit(w); err == nil {
			t.Errorf("NewSplit(%v) = %v, want an error", w, s)
		}
	}
}

// legOfKey is the leg of a recipient key under s.
func legOfKey(s *Split, key string) int { return s.Leg(Bucket([]byte(key))) }

func TestSplitProportions(t *testing.T) {
	const n = 100000
	keys := make([]string, n)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range keys {
		keys[i] = "user:" + strconv.FormatUint(r.Uint64(), 36)
	}
	for _, weights := range [][]int{
		{90, 10}, {50, 50}, {1, 99}, {99, 1}, {1, 1, 1}, {70, 0, 30}, {0, 100}, {100, 0}, {3, 5, 7, 11}, {1},
	} {
		s, err := NewSplit(weights)
		if err != nil {
			t.Fatalf("NewSplit(%v): %v", weights, err)
		}
		if s.Legs() != len(weights) {
			t.Errorf("NewSplit(%v).Legs() = %d", weights, s.Legs())
		}
		counts := make([]int, len(weights))
		for _, k := range keys {
			counts[legOfKey(s, k)]++
		}
		sum := 0
		for _, w := range weights {
			sum += w
		}
		for i, w := range weights {
			want := 100 * float64(w) / float64(sum)
			got := 100 * float64(counts[i]) / n
			if got < want-1 || got > want+1 {
				t.Errorf("weights %v: leg %d got %.2f%% of keys, want %.2f%% ±1", weights, i, got, want)
			}
			if w == 0 && counts[i] != 0 {
				t.Errorf("weights %v: leg %d has weight 0 but got %d keys", weights, i, counts[i])
			}
		}
	}
}

// TestSplitRanges checks every bucket: legs own consecutive ranges in leg
// order, their sizes follow the weights, and the last positive leg owns
// the last bucket.
func TestSplitRanges(t *testing.T) {
	for _, weights := range [][]int{{1, 2}, {1, 1, 1}, {0, 3, 0, 1, 0}, {7}, {1, 1 << 40}} {
		s, err := NewSplit(weights)
		if err != nil {
			t.Fatal(err)
		}
		sizes := make([]int, len(weights))
		prev := 0
		for b := uint32(0); b < Buckets; b++ {
			l := s.Leg(b)
			if l < prev {
				t.Fatalf("weights %v: bucket %d in leg %d after leg %d", weights, b, l, prev)
			}
			prev = l
			sizes[l]++
		}
		sum := 0
		for _, w := range weights {
			sum += w
		}
		for i, w := range weights {
			exact := float64(w) * Buckets / float64(sum)
			if d := float64(sizes[i]) - exact; d <= -1 || d >= 1 {
				t.Errorf("weights %v: leg %d owns %d buckets, want %.2f", weights, i, sizes[i], exact)
			}
		}
		last := 0
		for i, w := range weights {
			if w > 0 {
				last = i
			}
		}
		if got := s.Leg(Buckets - 1); got != last {
			t.Errorf("weights %v: last bucket in leg %d, want %d", weights, got, last)
		}
		if got := s.Leg(Buckets + 5); got != last {
			t.Errorf("weights %v: out-of-range bucket in leg %d, want %d", weights, got, last)
		}
	}
}

// TestSplitMonotone checks that raising leg 1's weight only moves keys
// from leg 0 to leg 1.
func TestSplitMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	keys := make([][]byte, 20000)
	for i := range keys {
		keys[i] = []byte("user:" + strconv.FormatUint(r.Uint64(), 36))
	}
	for _, w0 := range []int{100, 37} {
		var prev *Split
		for w1 := 0; w1 <= 200; w1 += 3 {
			s, err := NewSplit([]int{w0, w1})
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil {
				moved := 0
				for _, k := range keys {
					b := Bucket(k)
					before, after := prev.Leg(b), s.Leg(b)
					if before == 1 && after == 0 {
						t.Fatalf("w0=%d: raising w1 to %d moved %q back to leg 0", w0, w1, k)
					}
					if before != after {
						moved++
					}
				}
				if moved == 0 {
					t.Errorf("w0=%d: raising w1 to %d moved no key", w0, w1)
				}
			}
			prev = s
		}
	}
}

// TestHotPathAllocs checks that choosing a leg for a recipient allocates
// nothing once the key buffer has grown.
func TestHotPathAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohort.txt")
	if err := os.WriteFile(path, []byte("alice\ngroup:g1\nall\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCohort(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSplit([]int{70, 20, 10})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	keys := []Key{KeySender, KeyRecipient, KeyConversation}
	want := make([]int, len(keys))
	for i, k := range keys {
		want[i] = s.Leg(fnvBucket(AppendKey(nil, k, "alice", "user", "bob")))
	}
	got := make([]int, len(keys))
	wrong := 0
	allocs := testing.AllocsPerRun(200, func() {
		for i, k := range keys {
			buf = AppendKey(buf[:0], k, "alice", "user", "bob")
			got[i] = s.Leg(Bucket(buf))
		}
		if !c.Contains("user", "alice") || !c.Contains("group", "g1") || !c.Contains("all", "") || c.Contains("user", "bob") {
			wrong++
		}
	})
	if allocs != 0 {
		t.Errorf("AppendKey+Bucket+Leg+Contains: %v allocs per run, want 0", allocs)
	}
	if wrong != 0 {
		t.Errorf("the cohort lookups did not answer as the file says (%d runs)", wrong)
	}
	if !slices.Equal(got, want) {
		t.Errorf("legs %v, want %v", got, want)
	}
}
