package issuer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
)

// Error kinds; test with errors.Is.
var (
	// ErrUnknownProfile: the CA does not offer the requested profile.
	ErrUnknownProfile = errors.New("unknown ACME profile")
	// ErrRateLimited: the CA refused with a rate limit; see RetryAfter.
	ErrRateLimited = errors.New("rate limited by the CA")
	// ErrChallengeFailed: the CA could not validate a DNS-01 challenge
	// (no or wrong TXT record, DNS failure, CAA); ProblemOf gives the detail.
	ErrChallengeFailed = errors.New("DNS-01 challenge failed")
	// ErrSolver: the Solver could not put a challenge record in the hub's DNS.
	ErrSolver = errors.New("challenge DNS update failed")
	// ErrCAUnreachable: no HTTPS exchange with the CA was possible
	// (network, TLS, timeout).
	ErrCAUnreachable = errors.New("CA unreachable")
	// ErrCARefused: the CA answered with an ACME problem not covered above.
	ErrCARefused = errors.New("CA refused the request")
	// ErrNoARI: the CA offers no renewal information for the certificate.
	ErrNoARI = errors.New("CA offers no renewal information (ARI)")
	// ErrOrderNotFound: the CA has no such order for this account.
	ErrOrderNotFound = errors.New("no such order at the CA")
)

// Problem is an ACME problem document from the CA.
type Problem struct {
	// Type is the full URN, e.g. "urn:ietf:params:acme:error:unauthorized".
	Type   string
	Detail string
	// Status is the HTTP status the CA gave, 0 if none.
	Status int
}

// ShortType is Type without the ACME error namespace, e.g. "unauthorized".
func (p Problem) ShortType() string {
	return strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:")
}

// ProblemOf returns the first ACME problem in err's chain.
func ProblemOf(err error) (Problem, bool) {
	var pd *acme.ProblemDetails
	if !errors.As(err, &pd) || pd == nil {
		return Problem{}, false
	}
	return Problem{Type: pd.Type, Detail: pd.Detail, Status: pd.HTTPStatus}, true
}

// RetryAfter returns when a rate-limited request may be retried, if the
// CA said.
func RetryAfter(err error) (time.Time, bool) {
	var rl *rateLimitError
	if errors.As(err, &rl) {
		return rl.until, !rl.until.IsZero()
	}
	var le *acme.RateLimitedError
	if errors.As(err, &le) && le.RetryAfter > 0 {
		return time.Now().Add(le.RetryAfter), true
	}
	return time.Time{}, false
}

// rateLimitError pins the retry time when the error is made, so that it
// does not drift while the error travels.
type rateLimitError struct {
	until time.Time
	err   error
}

func (e *rateLimitError) Error() string { return e.err.Error() }
func (e *rateLimitError) Unwrap() error { return e.err }

// validationProblems are the problem types a CA reports for a challenge it
// could not validate.
var validationProblems = map[string]bool{
	acme.UnauthorizedErrorType:      true,
	acme.DNSErrorType:               true,
	acme.IncorrectResponseErrorType: true,
	acme.ConnectionErrorType:        true,
	acme.CaaErrorType:               true,
	acme.TLSErrorType:               true,
}

// classify wraps err from lego with op and the matching error kind.
func classify(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) {
		var until time.Time
		if rl.RetryAfter > 0 {
			// Round up: Retry-After has one-second resolution, and a retry
			// a fraction early lands inside the CA's window.
			until = time.Now().Add(rl.RetryAfter + time.Second - 1).Truncate(time.Second)
		}
		return &rateLimitError{until: until, err: fmt.Errorf("%s: %w: %w", op, ErrRateLimited, err)}
	}
	if errors.Is(err, ErrSolver) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) && pd != nil {
		switch {
		case pd.Type == acme.InvalidProfileErrorType:
			return fmt.Errorf("%s: %w: %w", op, ErrUnknownProfile, err)
		// A problem inside a challenge or authorization object carries no
		// request URL; one from a failed HTTP request does.
		case pd.URL == "" && validationProblems[pd.Type]:
			return fmt.Errorf("%s: %w: %w", op, ErrChallengeFailed, err)
		default:
			return fmt.Errorf("%s: %w: %w", op, ErrCARefused, err)
		}
	}
	if isNetError(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrCAUnreachable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isNetError reports a transport failure: connection, DNS, TLS, timeout.
func isNetError(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// rejectedProblems are the problem types a CA gives again, whatever the
// timing, for the same request: the request itself is refused, so
// retrying only spends the CA's rate limits.
var rejectedProblems = map[string]bool{
	acme.MalformedErrorType:             true,
	acme.RejectedIdentifierErrorType:    true,
	acme.BadCSRErrorType:                true,
	acme.CaaErrorType:                   true,
	acme.UnsupportedIdentifierErrorType: true,
}

// Rejected reports whether err carries an ACME problem the CA would give
// again for the same request (see rejectedProblems), and returns it. A
// compound problem counts when each of its subproblems does.
func Rejected(err error) (Problem, bool) {
	var pd *acme.ProblemDetails
	if !errors.As(err, &pd) || pd == nil {
		return Problem{}, false
	}
	p := Problem{Type: pd.Type, Detail: pd.Detail, Status: pd.HTTPStatus}
	if rejectedProblems[pd.Type] {
		return p, true
	}
	if pd.Type != acme.CompoundErrorType || len(pd.SubProblems) == 0 {
		return Problem{}, false
	}
	for _, sp := range pd.SubProblems {
		if !rejectedProblems[sp.Type] {
			return Problem{}, false
		}
	}
	return p, true
}

// Overloaded reports whether err suggests that the CA is under load: it
// could not be reached (network, timeout), answered with HTTP 5xx or
// with a serverInternal problem. A rate limit is not overload; see
// RetryAfter and ErrRateLimited.
func Overloaded(err error) bool {
	if errors.Is(err, ErrCAUnreachable) {
		return true
	}
	p, ok := ProblemOf(err)
	return ok && (p.Type == acme.ServerInternalErrorType || p.Status >= 500)
}
