package pace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Signal is what one finished order says about the CA.
type Signal int

const (
	// NoSignal: the attempt says nothing about the CA's load (a request
	// refused on its merits, a failed challenge, a cancelled order).
	NoSignal Signal = iota
	// Success: the CA did the work; the latency is a sample.
	Success
	// Overloaded: the CA failed in a way that suggests load (HTTP 5xx,
	// serverInternal, unreachable, timeouts).
	Overloaded
	// RateLimited: the CA refused with 429/rateLimited.
	RateLimited
)

// Limiter defaults.
const (
	DefaultTolerance = 2.0
	DefaultMaxHold   = time.Minute
	// warmup is how many samples make a baseline before latency can
	// count as blown up.
	warmup = 5
	// The baseline is the latency of the CA without congestion. It
	// follows the recent latency down within about baselineDown rounds of
	// the limit, and up only over about baselineUp rounds and only while
	// the recent latency is within settled of it: latency that climbs
	// with the load is congestion, never the new normal. At a limit of 1
	// the hub adds no load at all, so whatever latency it sees then is the
	// CA's own: the baseline takes it (a CA that became slower for good
	// is learnt so). Measured in rounds, not samples: at 64 orders in
	// flight, 64 samples are one round.
	baselineDown = 4
	baselineUp   = 200
	settled      = 1.25
	// recentWeight is the largest weight of a new sample in the recent
	// latency (at small limits; about two per round at large ones).
	recentWeight = 0.25
	// backoff is the factor applied on a drop.
	backoff = 0.5
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Initial is the limit to start from (1..Max).
	Initial int
	// Max bounds the limit; Initial == Max makes it fixed.
	Max int
	// Tolerance: recent latency above Tolerance times the baseline is a
	// blow-up. Default DefaultTolerance.
	Tolerance float64
	// MaxHold: a Retry-After up to this long stops every new order until
	// then; it is what request-rate limits and an account's order budget
	// answer (Let's Encrypt: seconds, and 36 s for one new order). A
	// longer one is about one budget, such as one domain's weekly
	// certificates: the refused request waits it out alone, and orders
	// for other names go on. Default DefaultMaxHold.
	MaxHold time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Limiter bounds the orders in flight and adapts the bound to the CA.
// It is safe for concurrent use.
type Limiter struct {
	cfg LimiterConfig

	mu        sync.Mutex
	limit     float64 // capacity is floor(limit), at least 1
	threshold float64 // slow start (+1 per sample) below it, +1/limit above
	inflight  int
	peak      int
	peakLimit int
	holdUntil time.Time
	lastDrop  time.Time
	baseline  float64 // seconds
	recent    float64 // seconds
	samples   int
	drops     int
	changed   chan struct{} // closed and replaced when a slot may be free
}

// NewLimiter checks cfg and returns a Limiter at cfg.Initial.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.Max < 1 {
		return nil, fmt.Errorf("new limiter: max %d: want at least 1", cfg.Max)
	}
	if cfg.Initial < 1 || cfg.Initial > cfg.Max {
		return nil, fmt.Errorf("new limiter: initial %d: want 1 to max (%d)", cfg.Initial, cfg.Max)
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Tolerance <= 1 {
		return nil, fmt.Errorf("new limiter: tolerance %v: want more than 1", cfg.Tolerance)
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, limit: float64(cfg.Initial), threshold: math.Inf(1),
		changed: make(chan struct{})}, nil
}

// Token is one slot taken from a Limiter. Finish it exactly once with Done
// or Release; further calls do nothing.
type Token struct {
	l     *Limiter
	start time.Time
	once  sync.Once
}

// errHeld is TryAcquire's answer while the CA's Retry-After runs.
var errHeld = errors.New("held by the CA's Retry-After")

// Acquire waits for a slot (and for any Retry-After hold to end) and takes
// it. It fails only when ctx has ended, even with slots free.
func (l *Limiter) Acquire(ctx context.Context) (*Token, error) {
	var err error
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait for an order slot: %w", err)
		}
		tok, wait, changed := l.try()
		if tok != nil {
			return tok, nil
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("wait for an order slot: %w", ctx.Err())
		case <-changed:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return nil, err
		}
	}
}

// TryAcquire takes a slot if one is free now. Otherwise it returns nil and
// the error says why: all slots taken, or held until the returned time.
func (l *Limiter) TryAcquire() (*Token, time.Time, error) {
	tok, wait, _ := l.try()
	if tok != nil {
		return tok, time.Time{}, nil
	}
	if wait > 0 {
		return nil, l.cfg.Now().Add(wait), errHeld
	}
	return nil, time.Time{}, errors.New("all order slots are taken")
}

// try takes a slot, or returns how long a hold lasts (0: wait for a
// release) and the channel closed on the next change.
func (l *Limiter) try() (*Token, time.Duration, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	if now.Before(l.holdUntil) {
		return nil, l.holdUntil.Sub(now), l.changed
	}
	if l.inflight >= l.capacity() {
		return nil, 0, l.changed
	}
	l.inflight++
	l.peak = max(l.peak, l.inflight)
	return &Token{l: l, start: now}, 0, nil
}

func (l *Limiter) capacity() int { return max(1, int(l.limit)) }

// Release gives the slot back without a signal.
func (t *Token) Release() { t.Done(NoSignal, 0, time.Time{}) }

// Done gives the slot back and feeds the order's outcome to the limit:
// latency for Success, and for RateLimited the CA's Retry-After (zero if
// it gave none).
func (t *Token) Done(sig Signal, latency time.Duration, retryAfter time.Time) {
	t.once.Do(func() { t.l.done(t.start, sig, latency, retryAfter) })
}

func (l *Limiter) done(start time.Time, sig Signal, latency time.Duration, retryAfter time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	busy := l.inflight
	l.inflight--
	switch sig {
	case Success:
		l.sample(start, now, latency.Seconds(), busy)
	case Overloaded:
		l.drop(start, now, 1)
	case RateLimited:
		l.drop(start, now, 1)
		if retryAfter.After(now) && !retryAfter.After(now.Add(l.cfg.MaxHold)) && retryAfter.After(l.holdUntil) {
			l.holdUntil = retryAfter
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// sample takes one latency: a blow-up drops the limit, latency near the
// baseline with the slots in use raises it.
func (l *Limiter) sample(start, now time.Time, x float64, busy int) {
	if l.samples == 0 {
		l.recent = x
	} else {
		l.recent += min(recentWeight, 2/l.limit) * (x - l.recent)
	}
	blown := l.samples >= warmup && l.recent > l.cfg.Tolerance*l.baseline
	l.samples++
	// The baseline follows the smoothed latency, not single samples: a
	// noisy CA's fast orders would otherwise pull it to its minimum.
	switch {
	case l.samples <= warmup:
		l.baseline += (x - l.baseline) / float64(l.samples)
	case busy <= 1 && l.limit < 2, blown && l.limit <= float64(l.cfg.Initial):
		// At a limit of 1 the hub adds no load; at the starting limit,
		// below which latency alone does not cut (see below), it is the
		// load the CA was learnt at. Latency that stays high there is
		// the CA's own.
		l.baseline += (l.recent - l.baseline) / baselineDown
	case l.recent < l.baseline:
		l.baseline += (l.recent - l.baseline) / (baselineDown * l.limit)
	case l.recent <= settled*l.baseline:
		l.baseline += (l.recent - l.baseline) / (baselineUp * l.limit)
	}
	if blown {
		// Latency alone never cuts below the starting limit: a hub whose
		// own CPU is saturated sees every order slow down, and crawling
		// at one order at a time would not fix that. Only the CA saying
		// so (429, 5xx) goes lower.
		l.drop(start, now, float64(min(l.cfg.Initial, l.capacity())))
		return
	}
	// Only a limit that is used is evidence: an idle hub learns nothing
	// about the CA from orders far below its limit.
	if 2*busy < l.capacity() {
		return
	}
	if l.limit < l.threshold {
		l.limit++
	} else {
		l.limit += 1 / l.limit
	}
	l.limit = min(l.limit, float64(l.cfg.Max))
	l.peakLimit = max(l.peakLimit, l.capacity())
}

// drop halves the limit, not below floor, once per round: orders that
// started before the last drop report the trouble that caused it, not a
// new one.
func (l *Limiter) drop(start, now time.Time, floor float64) {
	if !l.lastDrop.IsZero() && !start.After(l.lastDrop) {
		return
	}
	l.limit = max(1, floor, math.Floor(l.limit*backoff))
	l.threshold = l.limit
	l.lastDrop = now
	l.drops++
}

// Stats is a Limiter's state.
type Stats struct {
	Limit    int // orders allowed in flight now
	InFlight int
	// Peak is the most orders that were in flight at once, PeakLimit the
	// highest limit reached.
	Peak      int
	PeakLimit int
	// Drops counts the times the limit was cut.
	Drops int
	// HoldUntil is when a Retry-After hold ends; zero or past when none.
	HoldUntil time.Time
	// Baseline is the typical order latency.
	Baseline time.Duration
}

// Stats returns the limiter's current state.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Limit: l.capacity(), InFlight: l.inflight, Peak: l.peak, PeakLimit: max(l.peakLimit, l.capacity()), Drops: l.drops,
		HoldUntil: l.holdUntil, Baseline: time.Duration(l.baseline * float64(time.Second))}
}

// Limit returns how many orders may be in flight now.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.capacity()
}
