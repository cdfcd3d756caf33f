package pace

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(t *testing.T, initial, maxN int, clk *fakeClock) *Limiter {
	t.Helper()
	l, err := NewLimiter(LimiterConfig{Initial: initial, Max: maxN, Now: clk.Now, MaxHold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fill takes every free slot.
func fill(t *testing.T, l *Limiter) []*Token {
	t.Helper()
	var toks []*Token
	for {
		tok, _, err := l.TryAcquire()
		if err != nil {
			return toks
		}
		toks = append(toks, tok)
	}
}

// round runs one round at full use: every slot taken, then each finished
// with sig after latency.
func round(t *testing.T, l *Limiter, clk *fakeClock, sig Signal, latency time.Duration) int {
	t.Helper()
	toks := fill(t, l)
	clk.Add(latency)
	for _, tok := range toks {
		tok.Done(sig, latency, time.Time{})
	}
	return len(toks)
}

func TestLimiter(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, l *Limiter, clk *fakeClock)
	}{
		{"steady latency grows to max and no further", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 20 {
				round(t, l, clk, Success, time.Second)
			}
			if got := l.Limit(); got != 64 {
				t.Fatalf("limit %d after steady rounds, want the max 64", got)
			}
			if n := len(fill(t, l)); n != 64 {
				t.Fatalf("%d slots handed out, want 64", n)
			}
		}},
		{"a limit not used does not grow", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 50 {
				tok, _, err := l.TryAcquire()
				if err != nil {
					t.Fatal(err)
				}
				clk.Add(time.Second)
				tok.Done(Success, time.Second, time.Time{})
			}
			if got := l.Limit(); got != 4 {
				t.Fatalf("limit %d with one order at a time, want 4 still", got)
			}
		}},
		{"429 halves once per round and honours Retry-After", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 3 {
				round(t, l, clk, Success, time.Second)
			}
			before := l.Limit()
			toks := fill(t, l)
			clk.Add(time.Second)
			until := clk.Now().Add(30 * time.Second)
			for _, tok := range toks {
				tok.Done(RateLimited, 0, until)
			}
			if got := l.Limit(); got != before/2 {
				t.Fatalf("limit %d after a round of 429s from %d, want %d (halved once)", got, before, before/2)
			}
			if tok, at, err := l.TryAcquire(); err == nil || !at.Equal(until) {
				if tok != nil {
					tok.Release()
				}
				t.Fatalf("slot during Retry-After: err %v, held until %v, want held until %v", err, at, until)
			}
			clk.Add(30 * time.Second)
			if n := len(fill(t, l)); n != before/2 {
				t.Fatalf("%d slots after the Retry-After, want %d", n, before/2)
			}
		}},
		{"a Retry-After longer than MaxHold holds nothing", func(t *testing.T, l *Limiter, clk *fakeClock) {
			tok, _, _ := l.TryAcquire()
			tok.Done(RateLimited, 0, clk.Now().Add(3*time.Hour))
			if _, _, err := l.TryAcquire(); err != nil {
				t.Fatalf("new orders held by a 3h Retry-After (one budget's, which its request waits out alone): %v", err)
			}
			if got := l.Limit(); got != 2 {
				t.Fatalf("limit %d, want 2: the refusal still halves it", got)
			}
		}},
		{"overload halves without a hold", func(t *testing.T, l *Limiter, clk *fakeClock) {
			round(t, l, clk, Success, time.Second)
			before := l.Limit()
			tok, _, _ := l.TryAcquire()
			clk.Add(time.Second)
			tok.Done(Overloaded, 0, time.Time{})
			if got := l.Limit(); got != before/2 {
				t.Fatalf("limit %d after a server error, want %d", got, before/2)
			}
			if _, _, err := l.TryAcquire(); err != nil {
				t.Fatalf("no slot after a server error: %v", err)
			}
		}},
		{"latency blow-up halves", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 3 {
				round(t, l, clk, Success, time.Second)
			}
			before := l.Limit()
			round(t, l, clk, Success, 5*time.Second)
			// The round's first sample still grows the limit by one: the
			// recent latency needs a second to cross the tolerance.
			if got := l.Limit(); got > (before+1)/2 {
				t.Fatalf("limit %d after latency went from 1s to 5s, want at most %d", got, (before+1)/2)
			}
		}},
		{"recovers after a drop, more slowly", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 6 {
				round(t, l, clk, Success, time.Second)
			}
			tok, _, _ := l.TryAcquire()
			clk.Add(time.Second)
			tok.Done(RateLimited, 0, time.Time{})
			low := l.Limit()
			for range 3 {
				round(t, l, clk, Success, time.Second)
			}
			// Past a drop the limit grows by about one per round, not by
			// doubling as at the start.
			if got := l.Limit(); got <= low || got > low+3 {
				t.Fatalf("limit %d three rounds after dropping to %d, want %d to %d", got, low, low+1, low+3)
			}
			for range 150 {
				round(t, l, clk, Success, time.Second)
			}
			if got := l.Limit(); got != 64 {
				t.Fatalf("limit %d after 150 good rounds, want back at 64", got)
			}
		}},
		{"a CA that slows with load holds the limit near its knee", func(t *testing.T, l *Limiter, clk *fakeClock) {
			// Latency is 1s up to 16 orders at once, then grows with the
			// load (the CA, or the hub, is saturated): more concurrency
			// than 16 buys nothing.
			sum, rounds := 0, 0
			for i := range 300 {
				toks := fill(t, l)
				latency := max(time.Second, time.Duration(len(toks))*time.Second/16)
				clk.Add(latency)
				for _, tok := range toks {
					tok.Done(Success, latency, time.Time{})
				}
				if i >= 100 {
					sum, rounds = sum+len(toks), rounds+1
				}
			}
			avg := float64(sum) / float64(rounds)
			if avg < 8 || avg > 40 {
				t.Fatalf("on average %.1f orders in flight against a CA that saturates at 16, want 8 to 40", avg)
			}
			if l.Stats().Drops == 0 {
				t.Fatal("latency growing with the load never cut the limit")
			}
		}},
		{"noisy latency without congestion still grows to max", func(t *testing.T, l *Limiter, clk *fakeClock) {
			// Orders take 0.3s or 0.7s at random (poll intervals), whatever
			// the load.
			rng := rand.New(rand.NewPCG(1, 2))
			for range 100 {
				toks := fill(t, l)
				clk.Add(700 * time.Millisecond)
				for _, tok := range toks {
					lat := 300 * time.Millisecond
					if rng.IntN(2) == 0 {
						lat = 700 * time.Millisecond
					}
					tok.Done(Success, lat, time.Time{})
				}
			}
			if s := l.Stats(); s.Limit != 64 {
				t.Fatalf("limit %d after 100 rounds of noisy but steady latency (%d drops), want 64", s.Limit, s.Drops)
			}
		}},
		{"a CA that became slower for good is learnt", func(t *testing.T, l *Limiter, clk *fakeClock) {
			for range 10 {
				round(t, l, clk, Success, time.Second)
			}
			low := 64
			for range 300 {
				round(t, l, clk, Success, 4*time.Second)
				low = min(low, l.Limit())
			}
			// Latency alone cuts down to the starting limit (4), not below.
			if low != 4 {
				t.Fatalf("the limit fell to %d when every order took 4x as long, want the starting 4", low)
			}
			if got := l.Limit(); got != 64 {
				t.Fatalf("limit %d after 300 rounds at the new, steady latency, want back at 64", got)
			}
		}},
		{"no signal leaves the limit", func(t *testing.T, l *Limiter, clk *fakeClock) {
			round(t, l, clk, NoSignal, time.Second)
			if got := l.Limit(); got != 4 {
				t.Fatalf("limit %d, want 4", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			tc.run(t, newTestLimiter(t, 4, 64, clk), clk)
		})
	}
}

func TestLimiterFixed(t *testing.T) {
	clk := newClock()
	l := newTestLimiter(t, 4, 4, clk)
	for range 10 {
		if n := round(t, l, clk, Success, time.Second); n != 4 {
			t.Fatalf("%d slots with concurrency fixed at 4", n)
		}
	}
}

func TestLimiterConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  LimiterConfig
	}{
		{"max zero", LimiterConfig{Initial: 1, Max: 0}},
		{"initial above max", LimiterConfig{Initial: 8, Max: 4}},
		{"initial zero", LimiterConfig{Initial: 0, Max: 4}},
		{"tolerance below 1", LimiterConfig{Initial: 1, Max: 4, Tolerance: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewLimiter(tc.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestLimiterAcquireWaits: a blocked Acquire takes the slot a release
// frees, and gives up when its context ends.
func TestLimiterAcquireWaits(t *testing.T) {
	l, err := NewLimiter(LimiterConfig{Initial: 1, Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Token)
	go func() {
		tok, err := l.Acquire(t.Context())
		if err != nil {
			t.Error(err)
		}
		got <- tok
	}()
	select {
	case <-got:
		t.Fatal("a second slot was handed out with limit 1")
	case <-time.After(20 * time.Millisecond):
	}
	first.Release()
	select {
	case tok := <-got:
		tok.Release()
	case <-time.After(10 * time.Second):
		t.Fatal("the freed slot was not handed to the waiter")
	}
	hold, _ := l.Acquire(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Acquire(ctx); err == nil {
		t.Fatal("Acquire with an ended context succeeded")
	}
	hold.Release()
	hold.Release() // a second release must not free a second slot
	if s := l.Stats(); s.InFlight != 0 {
		t.Fatalf("in flight %d after every release", s.InFlight)
	}
}
