package dnsserver

import "sync/atomic"

// shardCount splits the challenge records so that a write copies one
// shard, not the whole set: at 10,000 names a write copies about 40
// entries, and readers still never wait.
const shardCount = 256

// shardedMap is a copy-on-write map in shards: readers load one shard
// with an atomic read and look the key up in an immutable map; writers,
// serialised by the caller, replace one shard.
type shardedMap[V any] struct {
	shards [shardCount]atomic.Pointer[map[string]V]
}

func shardOf(k string) uint32 {
	// FNV-1a, inline so a lookup does not allocate.
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return h % shardCount
}

func (m *shardedMap[V]) get(k string) (V, bool) {
	if p := m.shards[shardOf(k)].Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// set stores v at k; callers serialise writes.
func (m *shardedMap[V]) set(k string, v V) {
	sh := &m.shards[shardOf(k)]
	old := sh.Load()
	n := make(map[string]V, 1)
	if old != nil {
		n = make(map[string]V, len(*old)+1)
		for key, val := range *old {
			n[key] = val
		}
	}
	n[k] = v
	sh.Store(&n)
}

// del removes k; callers serialise writes.
func (m *shardedMap[V]) del(k string) {
	sh := &m.shards[shardOf(k)]
	old := sh.Load()
	if old == nil {
		return
	}
	if _, ok := (*old)[k]; !ok {
		return
	}
	n := make(map[string]V, len(*old))
	for key, val := range *old {
		if key != k {
			n[key] = val
		}
	}
	sh.Store(&n)
}
