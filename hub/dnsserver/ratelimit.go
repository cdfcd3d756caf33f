package dnsserver

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Rate limiter geometry: a fixed table, so memory stays bounded however
// many sources (spoofed or not) send queries.
const (
	limShards       = 64
	limSlotsByShard = 256 // 16384 slots, 16 bytes each
)

// limiter limits responses per source prefix with a token bucket per
// prefix, kept as GCRA (one "theoretical arrival time" per bucket). The
// table is hashed with a per-process seed; a prefix whose slot is held by
// another active prefix shares that bucket rather than growing the table.
type limiter struct {
	interval int64 // ns between tokens
	tau      int64 // burst tolerance in ns
	epoch    time.Time
	seed     maphash.Seed
	shards   [limShards]limShard
}

type limShard struct {
	mu    sync.Mutex
	slots [limSlotsByShard]limSlot
}

type limSlot struct {
	key uint64 // 0: empty
	tat int64  // when the bucket is full again, ns since epoch
}

// newLimiter allows rate responses per second with a burst of rate.
func newLimiter(rate int) *limiter {
	interval := int64(time.Second) / int64(rate)
	return &limiter{
		interval: interval,
		tau:      interval * int64(rate),
		epoch:    time.Now(),
		seed:     maphash.MakeSeed(),
	}
}

// now is the monotonic time in ns since the limiter was made.
func (l *limiter) now() int64 { return int64(time.Since(l.epoch)) }

// allow takes a token from src's bucket at time now, reporting whether one
// was there.
func (l *limiter) allow(src netip.Addr, now int64) bool {
	key := prefixKey(src)
	h := maphash.Comparable(l.seed, key)
	sh := &l.shards[h%limShards]
	sl := &sh.slots[(h/limShards)%limSlotsByShard]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sl.key != key && (sl.key == 0 || sl.tat <= now) {
		// Empty, or its owner's bucket has refilled: take the slot over.
		sl.key, sl.tat = key, now
	}
	tat := max(sl.tat, now)
	if tat+l.interval-now > l.tau {
		return false
	}
	sl.tat = tat + l.interval
	return true
}

// prefixKey maps an address to its /24 (IPv4) or /56 (IPv6) prefix, as a
// non-zero key: hosts in one prefix share a bucket, as one attacker
// usually controls or spoofs a whole prefix.
func prefixKey(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return 1<<62 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	var k uint64
	for _, x := range b[:7] {
		k = k<<8 | uint64(x)
	}
	return 1<<63 | k
}
