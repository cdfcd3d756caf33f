package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
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

// solverError marks a Solver failure.
type solverError struct {
	op, fqdn string
	err      error
}

func (e *solverError) Error() string {
	return fmt.Sprintf("%s: %s TXT at %s: %v", ErrSolver, e.op, e.fqdn, e.err)
}

func (e *solverError) Unwrap() []error { return []error{ErrSolver, e.err} }
