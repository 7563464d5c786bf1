package house

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendBeijingTime checks the arithmetic against the time package
// on the edges (the epoch, leap days, century years, the ends of the
// four-digit range) and on random instants.
func TestAppendBeijingTime(t *testing.T) {
	zone := time.FixedZone("CST", beijingOffset)
	check := func(ms int64) {
		t.Helper()
		want := time.UnixMilli(ms).In(zone).Format(time.DateTime)
		if got := string(AppendBeijingTime(nil, ms)); got != want {
			t.Fatalf("AppendBeijingTime(%d) = %s, want %s", ms, got, want)
		}
	}
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, zone).UnixMilli()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999e6, zone).UnixMilli()
	edges := []int64{0, -1, 1, 999, -999, -1000, -1001, 8*3600*1000 - 1, -8 * 3600 * 1000, lo, hi}
	for _, d := range []time.Time{
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 2, 28, 16, 0, 0, 0, time.UTC), time.Date(1600, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 15, 59, 59, 999e6, time.UTC), time.Date(1969, 12, 31, 15, 59, 59, 0, time.UTC),
	} {
		edges = append(edges, d.UnixMilli(), d.UnixMilli()-1, d.UnixMilli()+1)
	}
	for _, ms := range edges {
		check(ms)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(lo + r.Int64N(hi-lo))
	}
}

// BenchmarkAppendBeijingTime compares the arithmetic with the time package.
func BenchmarkAppendBeijingTime(b *testing.B) {
	zone := time.FixedZone("CST", beijingOffset)
	var buf [32]byte
	ms := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC).UnixMilli()
	b.Run("arithmetic", func(b *testing.B) {
		for b.Loop() {
			AppendBeijingTime(buf[:0], ms)
		}
	})
	b.Run("time", func(b *testing.B) {
		for b.Loop() {
			time.UnixMilli(ms).In(zone).AppendFormat(buf[:0], time.DateTime)
		}
	})
}
