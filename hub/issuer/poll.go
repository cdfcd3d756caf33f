package issuer

import (
	"context"
	"fmt"
	"time"
)

// Pacing of polls while the CA validates challenges or issues a
// certificate.
const (
	// firstPoll is the first wait when the CA sends no Retry-After; each
	// further one doubles, up to maxPoll.
	firstPoll = 100 * time.Millisecond
	maxPoll   = 10 * time.Second
	// maxRetryAfter caps the CA's Retry-After between two polls.
	maxRetryAfter = 2 * time.Minute
	// stepTimeout bounds one wait on the CA (an authorization to be
	// validated, a finalized order to be issued). Obtain with the order's
	// URL carries on after it.
	stepTimeout = 5 * time.Minute
)

// poller paces the polls of one resource in one state: the CA's
// Retry-After when it gives one, else a doubling interval, for at most
// stepTimeout and never past ctx.
type poller struct {
	deadline time.Time
	next     time.Duration
}

// delay returns the wait before the next poll given the CA's Retry-After
// on the last response (0 for none).
func (p *poller) delay(retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxRetryAfter)
	}
	if p.next == 0 {
		p.next = firstPoll
	}
	d := p.next
	p.next = min(2*p.next, maxPoll)
	return d
}

// wait sleeps before the next poll. what names the awaited event in
// errors.
func (p *poller) wait(ctx context.Context, retryAfter time.Duration, what string) error {
	return p.sleep(ctx, p.delay(retryAfter), what)
}

// sleep waits d, cut short at the step's deadline; it fails once the
// deadline has passed, or at once if ctx would end first.
func (p *poller) sleep(ctx context.Context, d time.Duration, what string) error {
	now := time.Now()
	if p.deadline.IsZero() {
		p.deadline = now.Add(stepTimeout)
	}
	left := p.deadline.Sub(now)
	if left <= 0 {
		return fmt.Errorf("gave up waiting for %s after %s", what, stepTimeout)
	}
	d = max(min(d, left), 0)
	if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
		// Sleeping into the deadline only delays the same failure.
		return fmt.Errorf("waiting for %s: the next poll (in %s) is past the deadline: %w",
			what, d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	case <-t.C:
		return nil
	}
}
