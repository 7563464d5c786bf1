package migrate

import (
	"fmt"
	"math"
	"math/bits"
)

// Key names what a weighted split hashes, per (message, recipient).
type Key string

// Split keys.
const (
	// KeySender hashes the message's "from" ("" when absent: all such
	// messages share one bucket), so one sender moves as a whole.
	KeySender Key = "sender"
	// KeyRecipient hashes to_type + ":" + id, so one recipient moves as a
	// whole.
	KeyRecipient Key = "recipient"
	// KeyConversation hashes, for a user, the unordered pair {from, id}, so
	// both directions of a 1:1 chat land on the same leg; for any other
	// recipient type, to_type + ":" + id, like KeyRecipient.
	KeyConversation Key = "conversation"
)

// ParseKey returns the key named s ("" means KeyRecipient); an unknown
// name is an error naming the valid ones.
func ParseKey(s string) (Key, error) {
	switch k := Key(s); k {
	case "":
		return KeyRecipient, nil
	case KeySender, KeyRecipient, KeyConversation:
		return k, nil
	}
	return "", fmt.Errorf("migrate: %q is not a split key (use %s, %s or %s)", s, KeySender, KeyRecipient, KeyConversation)
}

// AppendKey appends to dst the bytes that [Bucket] hashes for one
// (message, recipient): from is the message's sender, toType and id the
// recipient as the canonical walk gives them. A Key other than the three
// named ones hashes like KeyRecipient. It does not allocate when dst has
// the capacity.
func AppendKey(dst []byte, k Key, from, toType, id string) []byte {
	switch k {
	case KeySender:
		return append(dst, from...)
	case KeyConversation:
		if toType == "user" {
			lo, hi := from, id
			if hi < lo {
				lo, hi = hi, lo
			}
			// The NUL keeps ("ab","c") apart from ("a","bc"); the
			// "users:" prefix keeps a pair apart from a recipient key.
			dst = append(dst, "users:"...)
			dst = append(dst, lo...)
			dst = append(dst, 0)
			return append(dst, hi...)
		}
	}
	dst = append(dst, toType...)
	dst = append(dst, ':')
	return append(dst, id...)
}

// Buckets is the number of hash buckets weights are spread over (a weight
// of 1% is 100 buckets).
const Buckets = 10000

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Bucket maps key to [0, Buckets): the FNV-1a 64-bit hash of key, mixed
// by MurmurHash3's 64-bit finaliser, then scaled by the high word of a
// 64×64-bit multiply by Buckets. The finaliser matters: FNV-1a's last
// bytes barely reach its high bits, so without it ids that differ in
// their last character ("u1001", "u1002") share a bucket and move between
// providers in blocks. It depends on the key's bytes only, so every
// process, replica and release of imrelay puts a key in the same bucket.
// It does not allocate.
func Bucket(key []byte) uint32 {
	h := uint64(fnvOffset64)
	for _, c := range key {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	hi, _ := bits.Mul64(fmix64(h), Buckets)
	return uint32(hi)
}

// fmix64 is MurmurHash3's finaliser: every input bit reaches every output
// bit.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Split assigns buckets to legs by relative integer weights, as
// consecutive ranges in leg order: leg 0 owns the first weight[0]/sum of
// the buckets, leg 1 the next weight[1]/sum, and so on; the last leg with
// a positive weight absorbs the rounding. With two legs, raising leg 1's
// weight only moves buckets from leg 0 to leg 1, never back. A Split is
// immutable and safe for concurrent use.
type Split struct {
	// end[i] is one past the last bucket of leg i; a leg with weight 0
	// has end[i] == end[i-1] and so no bucket.
	end []uint32
	// last is the last leg with a positive weight.
	last int
}

// NewSplit returns the split of weights, one per leg. It is an error to
// give no weights, a negative weight, or weights that add up to 0.
func NewSplit(weights []int) (*Split, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("migrate: a split needs at least one weight")
	}
	var sum uint64
	last := -1
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("migrate: split weight %d (leg %d) is negative", w, i)
		}
		if uint64(w) > math.MaxUint64-sum {
			return nil, fmt.Errorf("migrate: split weights overflow")
		}
		sum += uint64(w)
		if w > 0 {
			last = i
		}
	}
	if sum == 0 {
		return nil, fmt.Errorf("migrate: split weights add up to 0")
	}
	s := &Split{end: make([]uint32, len(weights)), last: last}
	var cum uint64
	for i, w := range weights {
		cum += uint64(w)
		// floor(cum*Buckets/sum) in 128-bit arithmetic: cum <= sum, so
		// the quotient is at most Buckets and Div64 cannot overflow.
		hi, lo := bits.Mul64(cum, Buckets)
		q, _ := bits.Div64(hi, lo, sum)
		s.end[i] = uint32(q)
	}
	return s, nil
}

// Leg returns the leg that owns bucket. A bucket outside [0, Buckets)
// goes to the last leg with a positive weight. It does not allocate.
func (s *Split) Leg(bucket uint32) int {
	for i, e := range s.end {
		if bucket < e {
			return i
		}
	}
	return s.last
}

// Legs returns the number of legs of s.
func (s *Split) Legs() int { return len(s.end) }
