package dnsserver

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	const rate = 10
	interval := int64(time.Second / rate)
	a := netip.MustParseAddr("192.0.2.1")
	cases := []struct {
		name string
		run  func(l *limiter) int // allowed count
		want int
	}{
		{"burst then nothing", func(l *limiter) int { return count(l, a, 0, 25) }, rate},
		{"one token per interval", func(l *limiter) int {
			count(l, a, 0, rate)
			return count(l, a, interval, 5)
		}, 1},
		{"full again after a second", func(l *limiter) int {
			count(l, a, 0, 25)
			return count(l, a, int64(time.Second), 25)
		}, rate},
		{"one /24 shares a bucket", func(l *limiter) int {
			count(l, netip.MustParseAddr("192.0.2.200"), 0, rate)
			return count(l, a, 0, 5)
		}, 0},
		{"the next /24 has its own", func(l *limiter) int {
			count(l, netip.MustParseAddr("192.0.3.1"), 0, rate)
			return count(l, a, 0, 5)
		}, 5},
		{"IPv4-mapped IPv6 is IPv4", func(l *limiter) int {
			count(l, netip.MustParseAddr("::ffff:192.0.2.9"), 0, rate)
			return count(l, a, 0, 5)
		}, 0},
		{"one /56 shares a bucket", func(l *limiter) int {
			count(l, netip.MustParseAddr("2001:db8:0:ff::1"), 0, rate)
			return count(l, netip.MustParseAddr("2001:db8:0:aa::2"), 0, 5)
		}, 0},
		{"the next /56 has its own", func(l *limiter) int {
			count(l, netip.MustParseAddr("2001:db8:0:ff::1"), 0, rate)
			return count(l, netip.MustParseAddr("2001:db8:0:1ff::1"), 0, 5)
		}, 5},
		{"after a flood of other prefixes a new one gets its burst", func(l *limiter) int {
			// 100,000 prefixes fill every slot of the fixed table; once their
			// buckets refill, their slots are free for a newcomer.
			for i := range 100_000 {
				l.allow(netip.AddrFrom4([4]byte{byte(11 + i>>16), byte(i >> 8), byte(i), 1}), 0)
			}
			return count(l, a, 10*int64(time.Second), 25)
		}, rate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(rate)
			if got := tc.run(l); got != tc.want {
				t.Errorf("allowed %d, want %d", got, tc.want)
			}
		})
	}
}

// count asks n times at time now and returns how many were allowed.
func count(l *limiter, a netip.Addr, now int64, n int) int {
	ok := 0
	for range n {
		if l.allow(a, now) {
			ok++
		}
	}
	return ok
}

// TestLimiterBoundedMemory checks allow never allocates: the table is
// fixed, whatever the number of sources.
func TestLimiterBoundedMemory(t *testing.T) {
	l := newLimiter(100)
	i := uint32(0)
	allocs := testing.AllocsPerRun(10_000, func() {
		i++
		b := [4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		l.allow(netip.AddrFrom4(b), int64(i))
	})
	if allocs != 0 {
		t.Errorf("allow allocates %.1f times per call", allocs)
	}
}
