package issuer

import (
	"context"
	"fmt"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/challenge"
)

// cleanupTimeout bounds removing challenge records, which happens even
// when the Obtain's context has ended.
const cleanupTimeout = 30 * time.Second

// dnsChallenge is the DNS-01 challenge of one pending authorization.
type dnsChallenge struct {
	authzURL string
	domain   string // "*.x" for a wildcard's authorization
	chlg     acme.Challenge
	fqdn     string // TXT owner name
	value    string // TXT value
}

// record is one TXT value at one name.
type record struct{ fqdn, value string }

// solve validates the order's pending authorizations: it puts every TXT
// record into the hub's DNS through the Solver, answers every challenge
// (so the CA validates them in parallel), waits until each authorization
// is valid, and removes the records.
func (r *orderRun) solve(ctx context.Context, order acme.ExtendedOrder) error {
	todo, err := r.pendingChallenges(ctx, order)
	if err != nil || len(todo) == 0 {
		return err
	}

	var presented []record
	defer func() { r.cleanUp(ctx, presented) }()
	seen := make(map[record]bool, len(todo))
	for _, c := range todo {
		rec := record{c.fqdn, c.value}
		if seen[rec] {
			continue
		}
		seen[rec] = true
		// CleanUp also runs for a value whose Present failed.
		presented = append(presented, rec)
		if err := r.i.solver.Present(ctx, c.fqdn, c.value); err != nil {
			return &solverError{op: "present", fqdn: c.fqdn, err: err}
		}
	}

	// When to look at each authorization first: after the challenge
	// response's Retry-After, else soon. Set when the challenge is
	// answered, so the authorizations, validated by the CA in parallel,
	// are not each waited for in turn.
	firstPollAt := make([]time.Time, len(todo))
	for k, c := range todo {
		firstPollAt[k] = time.Now().Add(firstPoll)
		// A challenge answered before a restart is not answered again:
		// the CA is validating it already.
		if c.chlg.Status != acme.StatusPending {
			continue
		}
		got, err := r.i.core.Challenges.New(ctx, c.chlg.URL)
		if err != nil {
			return fmt.Errorf("answer the challenge for %s: %w", c.domain, err)
		}
		switch got.Status {
		case acme.StatusInvalid:
			return challengeFailed(c.domain, []acme.Challenge{got.Challenge})
		case acme.StatusValid:
			firstPollAt[k] = time.Time{}
		}
		if got.RetryAfter > 0 {
			firstPollAt[k] = time.Now().Add(min(got.RetryAfter, maxRetryAfter))
		}
	}
	for k, c := range todo {
		if err := r.awaitAuthz(ctx, c, firstPollAt[k]); err != nil {
			return err
		}
	}
	return nil
}

// pendingChallenges fetches the order's authorizations and returns the
// DNS-01 challenges of those still pending.
func (r *orderRun) pendingChallenges(ctx context.Context, order acme.ExtendedOrder) ([]dnsChallenge, error) {
	var todo []dnsChallenge
	for _, u := range order.Authorizations {
		authz, err := r.i.core.Authorizations.Get(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("get authorization %s: %w", u, err)
		}
		domain := challenge.GetTargetedDomain(authz)
		switch authz.Status {
		case acme.StatusValid:
			continue // validated earlier, or reused by the CA
		case acme.StatusPending:
		case acme.StatusInvalid:
			return nil, challengeFailed(domain, authz.Challenges)
		default:
			return nil, fmt.Errorf("the authorization for %s is %s", domain, authz.Status)
		}
		chlg, err := challenge.FindChallenge(challenge.DNS01, authz)
		if err != nil {
			return nil, fmt.Errorf("the CA offers no dns-01 challenge for %s", domain)
		}
		keyAuth, err := r.i.core.GetKeyAuthorization(chlg.Token)
		if err != nil {
			return nil, fmt.Errorf("key authorization for %s: %w", domain, err)
		}
		todo = append(todo, dnsChallenge{
			authzURL: u,
			domain:   domain,
			chlg:     chlg,
			fqdn:     challengeFQDN(authz.Identifier.Value),
			value:    challengeValue(keyAuth),
		})
	}
	return todo, nil
}

// awaitAuthz polls c's authorization, first at firstAt, until the CA has
// validated it.
func (r *orderRun) awaitAuthz(ctx context.Context, c dnsChallenge, firstAt time.Time) error {
	var p poller
	what := "validation of " + c.domain
	if err := p.sleep(ctx, time.Until(firstAt), what); err != nil {
		return err
	}
	for {
		xctx, x := withExchange(ctx, c.authzURL)
		authz, err := r.i.core.Authorizations.Get(xctx, c.authzURL)
		if err != nil {
			return fmt.Errorf("check the authorization for %s: %w", c.domain, err)
		}
		switch authz.Status {
		case acme.StatusValid:
			return nil
		case acme.StatusPending:
		case acme.StatusInvalid:
			return challengeFailed(c.domain, authz.Challenges)
		default:
			return fmt.Errorf("the authorization for %s is %s", c.domain, authz.Status)
		}
		_, retryAfter := x.result()
		if err := p.wait(ctx, retryAfter, what); err != nil {
			return err
		}
	}
}

// cleanUp removes the records, with a context of its own: records must not
// outlive a canceled Obtain.
func (r *orderRun) cleanUp(ctx context.Context, recs []record) {
	if len(recs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, rec := range recs {
		if err := r.i.solver.CleanUp(cctx, rec.fqdn, rec.value); err != nil {
			r.log.Warn("remove challenge record", "fqdn", rec.fqdn,
				"err", &solverError{op: "clean up", fqdn: rec.fqdn, err: err})
		}
	}
}

// challengeFailed is the error for a failed validation of domain: the
// problem the CA recorded on a challenge (preferring DNS-01's), which
// classify reports as ErrChallengeFailed.
func challengeFailed(domain string, chlgs []acme.Challenge) error {
	var prob *acme.ProblemDetails
	for _, c := range chlgs {
		if c.Error != nil && (prob == nil || c.Type == string(challenge.DNS01)) {
			prob = c.Error
		}
	}
	if prob == nil {
		return fmt.Errorf("validate %s: %w: the CA gave no reason", domain, ErrChallengeFailed)
	}
	return fmt.Errorf("validate %s: %w", domain, error(prob))
}
