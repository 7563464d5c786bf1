package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in the manner of HdrHistogram:
// every power of two of nanoseconds is split into subBuckets linear
// buckets, so any recorded value is known to within 1/subBuckets (≈1.6%).
// Recording is an index computation and an increment: no allocation.
type hist struct {
	counts [64 * subBuckets]uint64
	n      uint64
	max    int64
}

const (
	subBits    = 6
	subBuckets = 1 << subBits
)

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := 63 - bits.LeadingZeros64(uint64(v)) // ≥ subBits
	shift := exp - subBits
	return (shift+1)*subBuckets + int(uint64(v)>>shift) - subBuckets
}

// lowOf is the smallest value that falls in bucket i; highOf the largest.
func lowOf(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	return int64(i%subBuckets+subBuckets) << shift
}

func highOf(i int) int64 { return lowOf(i+1) - 1 }

func (h *hist) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the upper bound of the bucket holding quantile q (0..1).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(highOf(i), h.max))
		}
	}
	return time.Duration(h.max)
}
