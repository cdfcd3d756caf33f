package dnsserver

import (
	"fmt"
	"sync"
	"testing"
)

func TestShardedMap(t *testing.T) {
	var m shardedMap[int]
	for i := range 5000 {
		m.set(fmt.Sprint("k", i), i)
	}
	for i := range 5000 {
		if v, ok := m.get(fmt.Sprint("k", i)); !ok || v != i {
			t.Fatalf("k%d = %d, %v", i, v, ok)
		}
	}
	for i := 0; i < 5000; i += 2 {
		m.del(fmt.Sprint("k", i))
	}
	m.del("absent")
	for i := range 5000 {
		_, ok := m.get(fmt.Sprint("k", i))
		if ok != (i%2 == 1) {
			t.Fatalf("k%d present %v after deleting the even keys", i, ok)
		}
	}
}

// TestShardedMapReadersDuringWrites: readers see either the old or the new
// value, never a torn map (run with -race).
func TestShardedMapReadersDuringWrites(t *testing.T) {
	var m shardedMap[string]
	m.set("k", "old")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v, ok := m.get("k"); !ok || (v != "old" && v != "new") {
					t.Errorf("read %q, %v", v, ok)
					return
				}
			}
		}()
	}
	for i := range 2000 {
		m.set(fmt.Sprint("other", i), "x")
	}
	m.set("k", "new")
	close(stop)
	wg.Wait()
}
