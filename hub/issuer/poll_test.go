package issuer

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestPollerDelay(t *testing.T) {
	t.Parallel()
	var (
		p          poller
		got, want  []time.Duration
		doubled    = firstPoll
		retryAfter = []time.Duration{3 * time.Second, time.Hour}
	)
	// Without Retry-After: doubling from firstPoll up to maxPoll; the
	// CA's Retry-After (capped) in between leaves the doubling alone.
	for k := range 12 {
		got = append(got, p.delay(0))
		want = append(want, doubled)
		doubled = min(2*doubled, maxPoll)
		if k < len(retryAfter) {
			got = append(got, p.delay(retryAfter[k]))
			want = append(want, min(retryAfter[k], maxRetryAfter))
		}
	}
	if !slices.Equal(got, want) || want[len(want)-1] != maxPoll {
		t.Fatalf("delays %v, want %v", got, want)
	}
}

func TestPollerSleep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		left    time.Duration // of the step; 0: a fresh poller
		d       time.Duration
		is      error // nil: no error
		elapsed time.Duration
	}{
		{name: "short sleep", ctx: func(t *testing.T) context.Context { return t.Context() }, d: 50 * time.Millisecond,
			elapsed: 50 * time.Millisecond},
		{name: "zero", ctx: func(t *testing.T) context.Context { return t.Context() }},
		{name: "past ctx deadline fails at once", ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, d: time.Hour, is: context.DeadlineExceeded},
		{name: "canceled", ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, d: time.Hour, is: context.Canceled},
		{name: "step over", ctx: func(t *testing.T) context.Context { return t.Context() },
			left: -time.Second, d: time.Millisecond, is: errStepOver},
		{name: "cut at step end", ctx: func(t *testing.T) context.Context { return t.Context() },
			left: 80 * time.Millisecond, d: time.Hour, elapsed: 80 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p poller
			if tc.left != 0 {
				p.deadline = time.Now().Add(tc.left)
			}
			start := time.Now()
			err := p.sleep(tc.ctx(t), tc.d, "the test")
			took := time.Since(start)
			switch {
			case tc.is == nil && err != nil:
				t.Fatalf("sleep: %v", err)
			case tc.is == errStepOver && (err == nil || errors.Is(err, context.DeadlineExceeded)):
				t.Fatalf("sleep: %v; want a step timeout", err)
			case tc.is != nil && tc.is != errStepOver && !errors.Is(err, tc.is):
				t.Fatalf("sleep: %v; want %v", err, tc.is)
			}
			if took < tc.elapsed || took > tc.elapsed+time.Second {
				t.Errorf("slept %s, want %s", took, tc.elapsed)
			}
		})
	}
}

// errStepOver marks the expectation of poller's own timeout.
var errStepOver = errors.New("step timeout")
