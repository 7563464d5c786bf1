//go:build race

package proxy

// raceEnabled: the race detector changes allocation counts (and sync.Pool
// drops items on purpose), so allocation tests skip under it.
const raceEnabled = true
