package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
	"github.com/go-acme/lego/v5/challenge/dns01"
)

// Solver puts DNS-01 challenge records into the hub's DNS. Implementations
// must be safe for concurrent use: parallel orders present values at the
// same time, and one order for "x" and "*.x" presents two values at the
// same name.
type Solver interface {
	// Present makes value visible at challengeFQDN (e.g.
	// "_acme-challenge.www.example.org."; for "*.x" it is
	// "_acme-challenge.x."), returning once the hub's DNS serves it.
	Present(ctx context.Context, challengeFQDN, value string) error
	// CleanUp removes value from challengeFQDN; other values stay. It is
	// also called for a value whose Present failed.
	CleanUp(ctx context.Context, challengeFQDN, value string) error
}

// challengeFQDN is the owner name of identifier's DNS-01 TXT record.
func challengeFQDN(identifier string) string {
	return hub.ChallengeName(shared.NormalizeName(identifier))
}

// challengeValue is the TXT value for a key authorization (RFC 8555 8.4).
func challengeValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// provider is lego's DNS-01 provider; it hands records to the Solver.
type provider struct {
	solver Solver
}

func (p provider) Present(ctx context.Context, domain, _, keyAuth string) error {
	fqdn := challengeFQDN(domain)
	if err := p.solver.Present(ctx, fqdn, challengeValue(keyAuth)); err != nil {
		return &solverError{op: "present", fqdn: fqdn, err: err}
	}
	return nil
}

func (p provider) CleanUp(ctx context.Context, domain, _, keyAuth string) error {
	fqdn := challengeFQDN(domain)
	if err := p.solver.CleanUp(ctx, fqdn, challengeValue(keyAuth)); err != nil {
		return &solverError{op: "clean up", fqdn: fqdn, err: err}
	}
	return nil
}

// Timeout bounds lego's propagation wait, which our pre-check ends at
// once; the interval is also a sleep before it, so keep it tiny.
func (provider) Timeout() (timeout, interval time.Duration) {
	return time.Minute, time.Millisecond
}

// solverError marks a Solver failure.
type solverError struct {
	op, fqdn string
	err      error
}

func (e *solverError) Error() string {
	return fmt.Sprintf("%s: %s TXT at %s: %v", ErrSolver, e.op, e.fqdn, e.err)
}

func (e *solverError) Unwrap() []error { return []error{ErrSolver, e.err} }

// solverReady is lego's propagation pre-check. The Solver returns only
// once the hub's authoritative DNS serves the record, so there is nothing
// to check, and lego's check would query the system's resolvers and the
// zone's nameservers on port 53.
func solverReady(ctx context.Context, _, _, _ string, _ dns01.PreCheckFunc) (bool, error) {
	// stop=true with the error: a false stop would poll until the timeout.
	return true, ctx.Err()
}

var cnameOnce sync.Once

// disableCNAMEFollowing stops lego's dns01.GetChallengeInfo, which lego
// calls while solving, from resolving _acme-challenge CNAMEs through the
// system's resolvers: the hub's Solver is authoritative for the name the CA
// queries. lego offers only this process-wide switch.
func disableCNAMEFollowing() {
	cnameOnce.Do(func() { _ = os.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true") })
}
