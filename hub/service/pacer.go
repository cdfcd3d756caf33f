package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/shared"
)

// setupPacing readies the concurrency limiter, the CA budgets and the
// waiting requests' index. The store must be open.
func (h *Hub) setupPacing() error {
	is := h.cfg.Issuance
	l, err := pace.NewLimiter(pace.LimiterConfig{Initial: is.Concurrency.Start(is.MaxConcurrency), Max: is.MaxConcurrency})
	if err != nil {
		return fmt.Errorf("set up issuance concurrency: %w", err)
	}
	h.limiter = l
	h.budgets = pace.NewBudgets(h.store.PacingBucket(), pace.BudgetOptions{Timeout: h.store.Options().Timeout})
	h.waiting = newWaitIndex()
	var id [8]byte
	_, _ = rand.Read(id[:])
	h.instance = hex.EncodeToString(id[:])
	return nil
}

// Budget key prefixes in the pacing bucket.
const (
	budgetOrders = "orders."
	budgetDomain = "domain."
)

// spendsFor returns the budgets an order of names from the [[ca]] called
// caName draws on: the account's new orders, and the certificates of each
// registered domain among the names. Renewals draw on none where the CA
// exempts them; first issuances leave the renewal reserve where it does
// not.
func (h *Hub) spendsFor(caName string, names []string, renewal bool) []pace.Spend {
	ca, ok := h.cfg.CAByName(caName)
	if !ok {
		return nil
	}
	l := ca.Limits()
	if renewal && l.RenewalsExempt {
		return nil
	}
	share := 1.0
	if !renewal && !l.RenewalsExempt {
		share = 1 - l.RenewalReserve
	}
	var out []pace.Spend
	if l.NewOrdersPer3h > 0 {
		out = append(out, pace.Spend{Key: budgetOrders + ca.Name, Share: share,
			Rate: pace.Rate{Limit: l.NewOrdersPer3h, Period: config.NewOrdersPeriod},
			What: fmt.Sprintf("CA %s's new orders (%d per 3h)", ca.Name, l.NewOrdersPer3h)})
	}
	if l.CertsPerDomainPerWeek > 0 {
		for _, d := range registeredDomains(names) {
			out = append(out, pace.Spend{Key: budgetDomain + ca.Name + "." + d, Share: share,
				Rate: pace.Rate{Limit: l.CertsPerDomainPerWeek, Period: config.CertsPerDomainPeriod},
				What: fmt.Sprintf("CA %s's certificates for %s (%d per week)", ca.Name, d, l.CertsPerDomainPerWeek)})
		}
	}
	return out
}

// registeredDomains returns the distinct registered domains (public
// suffix plus one label, as CAs count them) of names, sorted. A name that
// is itself a public suffix counts as its own.
func registeredDomains(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.TrimPrefix(shared.NormalizeName(n), "*.")
		d, err := publicsuffix.EffectiveTLDPlusOne(n)
		if err != nil {
			d = n
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// renewalOf reports whether req renews the certificate the hub holds for
// its block, for the same names (what CAs count as a renewal), and when
// that certificate expires.
func (h *Hub) renewalOf(ctx context.Context, agent string, req shared.CertRequest, names []string) (bool, time.Time) {
	rec, err := h.store.GetCert(ctx, agent, req.CertName)
	if err != nil || !sameNameSet(rec.Names, names) {
		return false, time.Time{}
	}
	return true, rec.NotAfter
}

func sameNameSet(a, b []string) bool {
	norm := func(s []string) []string {
		out := make([]string, len(s))
		for i, n := range s {
			out[i] = shared.NormalizeName(n)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return len(a) > 0 && slices.Equal(norm(a), norm(b))
}

// paceSignal says what an order's outcome tells the limiter about the CA.
func paceSignal(err error) (pace.Signal, time.Time) {
	if err == nil {
		return pace.Success, time.Time{}
	}
	if t, ok := issuer.RetryAfter(err); ok {
		return pace.RateLimited, t
	}
	if errors.Is(err, issuer.ErrRateLimited) {
		return pace.RateLimited, time.Time{}
	}
	if issuer.Overloaded(err) {
		return pace.Overloaded, time.Time{}
	}
	return pace.NoSignal, time.Time{}
}
