package pace

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/internal/natstest"
)

// startJetStream runs an embedded JetStream server on loopback and
// returns its URL.
func startJetStream(tb testing.TB) string {
	tb.Helper()
	srv := natstest.JetStream(tb)
	return srv.ClientURL()
}

// budgetClient connects to url on a connection of its own, as another hub
// would, and opens the pacing bucket.
func budgetClient(tb testing.TB, url string, clk *fakeClock) *Budgets {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	kv, err := js.CreateOrUpdateKeyValue(tb.Context(), jetstream.KeyValueConfig{Bucket: "pacing", History: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return NewBudgets(kv, BudgetOptions{Now: clk.Now, Timeout: 2 * time.Second})
}

func mustTake(t *testing.T, b *Budgets, spends ...Spend) Verdict {
	t.Helper()
	v, err := b.Take(t.Context(), spends)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBudgetSharedAndRefilled(t *testing.T) {
	url := startJetStream(t)
	clk := newClock()
	a, b := budgetClient(t, url, clk), budgetClient(t, url, clk)
	orders := Spend{Key: "orders.ca", Rate: Rate{Limit: 3, Period: 3 * time.Hour}, Share: 1, What: "new orders"}

	for i, c := range []*Budgets{a, b, a} {
		if v := mustTake(t, c, orders); !v.OK {
			t.Fatalf("spend %d of 3 refused", i+1)
		}
	}
	v := mustTake(t, b, orders)
	if v.OK {
		t.Fatal("a fourth spend of a 3-per-3h budget, shared by two clients, was allowed")
	}
	if want := clk.Now().Add(time.Hour); !v.RetryAt.Equal(want) || v.Denied.Key != orders.Key {
		t.Fatalf("refused with retry at %v by %q, want %v by %q", v.RetryAt, v.Denied.Key, want, orders.Key)
	}

	t.Run("one token back per interval", func(t *testing.T) {
		clk.Add(time.Hour - time.Second)
		if mustTake(t, a, orders).OK {
			t.Fatal("allowed a second before the token came back")
		}
		clk.Add(time.Second)
		if !mustTake(t, a, orders).OK {
			t.Fatal("refused once the token came back")
		}
		if mustTake(t, b, orders).OK {
			t.Fatal("two spends on one refilled token")
		}
	})
	t.Run("full after a whole period", func(t *testing.T) {
		clk.Add(3 * time.Hour)
		if n, err := b.Left(t.Context(), orders); err != nil || n != 3 {
			t.Fatalf("left %d (%v) after a whole period, want 3", n, err)
		}
	})
}

func TestBudgetReserveForRenewals(t *testing.T) {
	clk := newClock()
	c := budgetClient(t, startJetStream(t), clk)
	rate := Rate{Limit: 10, Period: 7 * 24 * time.Hour}
	first := Spend{Key: "domain.ca.example.org", Rate: rate, Share: 0.8}
	renewal := Spend{Key: "domain.ca.example.org", Rate: rate, Share: 1}

	n := 0
	for mustTake(t, c, first).OK {
		n++
		if n > 10 {
			t.Fatal("first issuances overspent the budget")
		}
	}
	if n != 8 {
		t.Fatalf("first issuances took %d of 10, want 8 (a fifth kept for renewals)", n)
	}
	for i := range 2 {
		if !mustTake(t, c, renewal).OK {
			t.Fatalf("renewal %d refused from the reserve", i+1)
		}
	}
	if mustTake(t, c, renewal).OK {
		t.Fatal("a renewal beyond the whole budget was allowed")
	}
}

func TestBudgetAllOrNothing(t *testing.T) {
	clk := newClock()
	c := budgetClient(t, startJetStream(t), clk)
	orders := Spend{Key: "orders.ca", Rate: Rate{Limit: 5, Period: 3 * time.Hour}, Share: 1}
	domain := Spend{Key: "domain.ca.example.org", Rate: Rate{Limit: 1, Period: 7 * 24 * time.Hour}, Share: 1}
	off := Spend{Key: "domain.ca.unlimited", Share: 1}
	if !mustTake(t, c, orders, domain, off).OK {
		t.Fatal("first spend refused")
	}
	v := mustTake(t, c, orders, domain)
	if v.OK || v.Denied.Key != domain.Key {
		t.Fatalf("verdict %+v, want refused by the domain budget", v)
	}
	if n, err := c.Left(t.Context(), orders); err != nil || n != 4 {
		t.Fatalf("orders left %d (%v), want 4: the refused spend must give its order token back", n, err)
	}
}

// TestBudgetConcurrent: spends racing from two clients never overspend.
func TestBudgetConcurrent(t *testing.T) {
	url := startJetStream(t)
	clk := newClock()
	clients := []*Budgets{budgetClient(t, url, clk), budgetClient(t, url, clk)}
	orders := Spend{Key: "orders.ca", Rate: Rate{Limit: 10, Period: 3 * time.Hour}, Share: 1}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			v, err := clients[i%2].Take(t.Context(), []Spend{orders})
			if err != nil {
				t.Error(err)
				return
			}
			if v.OK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != 10 {
		t.Fatalf("%d of 30 racing spends allowed on a budget of 10", got)
	}
}

func TestBudgetBadSpend(t *testing.T) {
	c := budgetClient(t, startJetStream(t), newClock())
	rate := Rate{Limit: 1, Period: time.Hour}
	for _, tc := range []struct {
		name string
		s    Spend
	}{
		{"key with a space", Spend{Key: "orders.a b", Rate: rate, Share: 1}},
		{"key with a wildcard", Spend{Key: "orders.*", Rate: rate, Share: 1}},
		{"share zero", Spend{Key: "orders.ca", Rate: rate}},
		{"share above one", Spend{Key: "orders.ca", Rate: rate, Share: 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Take(t.Context(), []Spend{tc.s}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestTake(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := Rate{Limit: 300, Period: 3 * time.Hour} // one back every 36 s
	for _, tc := range []struct {
		name    string
		tat     time.Time
		share   float64
		ok      bool
		retryAt time.Time
	}{
		{"empty bucket", time.Time{}, 1, true, time.Time{}},
		{"stale tat is a full bucket", now.Add(-time.Hour), 1, true, time.Time{}},
		{"last token", now.Add(3*time.Hour - 36*time.Second), 1, true, time.Time{}},
		{"exhausted", now.Add(3 * time.Hour), 1, false, now.Add(36 * time.Second)},
		{"reserve reached", now.Add(3 * time.Hour * 8 / 10), 0.8, false, now.Add(36 * time.Second)},
		{"reserve not reached", now.Add(3*time.Hour*8/10 - 36*time.Second), 0.8, true, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, at := take(tc.tat, now, r, tc.share)
			if ok != tc.ok || !at.Equal(tc.retryAt) {
				t.Fatalf("take = %v, retry at %v; want %v, %v", ok, at, tc.ok, tc.retryAt)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		p, q Priority
		want bool
	}{
		{"renewal before an older first issuance", Priority{Renewal: true, Due: t0, Since: t0.Add(time.Hour)}, Priority{Since: t0}, true},
		{"first issuance after a renewal", Priority{Since: t0}, Priority{Renewal: true, Since: t0.Add(time.Hour)}, false},
		{"renewal expiring sooner first", Priority{Renewal: true, Due: t0, Since: t0.Add(time.Hour)}, Priority{Renewal: true, Due: t0.Add(24 * time.Hour), Since: t0}, true},
		{"renewal with a known expiry before one without", Priority{Renewal: true, Due: t0.Add(time.Hour)}, Priority{Renewal: true}, true},
		{"first issuances in arrival order", Priority{Since: t0}, Priority{Since: t0.Add(time.Second)}, true},
		{"not before itself", Priority{Since: t0}, Priority{Since: t0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Before(tc.q); got != tc.want {
				t.Fatalf("Before = %v, want %v", got, tc.want)
			}
		})
	}
}
