package pace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Spend is one budget a spend draws a token from.
type Spend struct {
	// Key names the bucket in the KV store, e.g. "orders.letsencrypt".
	Key  string
	Rate Rate
	// Share is the part of the bucket this spend may use, in (0, 1]:
	// first issuances use less than 1 to leave a reserve for renewals.
	Share float64
	// What the budget is, for people: "new orders per account of CA
	// letsencrypt (300 per 3h0m0s)".
	What string
}

// Verdict is the answer to Take.
type Verdict struct {
	OK bool
	// When refused: RetryAt is when the refusing budget has room for this
	// spend (if nothing else spends meanwhile), and Denied is that budget.
	RetryAt time.Time
	Denied  Spend
}

// BudgetOptions tune NewBudgets.
type BudgetOptions struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Timeout bounds each KV call; default 5s.
	Timeout time.Duration
}

// Budgets spends tokens from buckets kept in a JetStream KV bucket, shared
// by every hub that uses it. Each bucket is one key holding its GCRA
// timestamp; writes are revision-checked, so concurrent spends from
// several hubs never overspend.
type Budgets struct {
	kv      jetstream.KeyValue
	now     func() time.Time
	timeout time.Duration
}

// NewBudgets returns Budgets kept in kv. The bucket should expire keys
// that were not written for longer than the longest Period (a bucket
// untouched that long is full, like a missing key).
func NewBudgets(kv jetstream.KeyValue, opts BudgetOptions) *Budgets {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	return &Budgets{kv: kv, now: opts.Now, timeout: opts.Timeout}
}

// state is a bucket's stored value.
type state struct {
	TAT time.Time `json:"tat"`
}

// maxCAS bounds the retries of one revision-checked write.
const maxCAS = 20

var keyRe = regexp.MustCompile(`^[a-zA-Z0-9_=-]+(\.[a-zA-Z0-9_=-]+)*$`)

// errConflict: other writers kept winning.
var errConflict = errors.New("budget changed by others on every attempt")

// Take spends one token from every budget in spends, all or none: when
// one refuses, those already taken are given back. Budgets whose Rate is
// Off are skipped.
func (b *Budgets) Take(ctx context.Context, spends []Spend) (Verdict, error) {
	var taken []Spend
	giveBack := func() {
		for _, s := range taken {
			// Best effort: a token not given back is a token lost for one
			// interval, never an overspend.
			_ = b.update(context.WithoutCancel(ctx), s.Key, func(tat, now time.Time) (time.Time, bool) {
				return refund(tat, now, s.Rate), true
			})
		}
	}
	for _, s := range spends {
		if s.Rate.Off() {
			continue
		}
		if err := checkSpend(s); err != nil {
			giveBack()
			return Verdict{}, err
		}
		var retryAt time.Time
		err := b.update(ctx, s.Key, func(tat, now time.Time) (time.Time, bool) {
			next, ok, at := take(tat, now, s.Rate, s.Share)
			retryAt = at
			return next, ok
		})
		switch {
		case errors.Is(err, errRefused):
			giveBack()
			return Verdict{RetryAt: retryAt, Denied: s}, nil
		case err != nil:
			giveBack()
			return Verdict{}, fmt.Errorf("spend from budget %s: %w", s.Key, err)
		}
		taken = append(taken, s)
	}
	return Verdict{OK: true}, nil
}

// Left returns how many spends like s fit into its budget now.
func (b *Budgets) Left(ctx context.Context, s Spend) (int, error) {
	if s.Rate.Off() {
		return -1, nil
	}
	if err := checkSpend(s); err != nil {
		return 0, err
	}
	st, _, err := b.get(ctx, s.Key)
	if err != nil {
		return 0, fmt.Errorf("read budget %s: %w", s.Key, err)
	}
	return left(st.TAT, b.now(), s.Rate, s.Share), nil
}

func checkSpend(s Spend) error {
	if !keyRe.MatchString(s.Key) {
		return fmt.Errorf("budget key %q: not a KV key", s.Key)
	}
	if !(s.Share > 0 && s.Share <= 1) {
		return fmt.Errorf("budget %s: share %v: want more than 0, at most 1", s.Key, s.Share)
	}
	return nil
}

// errRefused: fn declined to write.
var errRefused = errors.New("refused")

// update applies fn to the bucket's tat and writes the result only if
// nobody wrote in between, retrying on conflict. fn returning false
// leaves the bucket as it is (errRefused).
func (b *Budgets) update(ctx context.Context, key string, fn func(tat, now time.Time) (time.Time, bool)) error {
	for range maxCAS {
		st, rev, err := b.get(ctx, key)
		if err != nil {
			return err
		}
		next, ok := fn(st.TAT, b.now())
		if !ok {
			return errRefused
		}
		val, err := json.Marshal(state{TAT: next.UTC()})
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, b.timeout)
		if rev == 0 {
			_, err = b.kv.Create(cctx, key, val)
		} else {
			_, err = b.kv.Update(cctx, key, val, rev)
		}
		cancel()
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
	}
	return errConflict
}

// get reads a bucket; a missing one is full (zero tat, revision 0).
func (b *Budgets) get(ctx context.Context, key string) (state, uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	e, err := b.kv.Get(cctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return state{}, 0, nil
	}
	if err != nil {
		return state{}, 0, err
	}
	var st state
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		// A damaged bucket must not stop issuance: start it afresh (full),
		// overwriting the bad value at its revision.
		return state{}, e.Revision(), nil
	}
	return st, e.Revision(), nil
}
