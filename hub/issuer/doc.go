// Package issuer obtains certificates from an ACME CA for CSRs made
// elsewhere, answering DNS-01 challenges through a Solver (the hub's own
// authoritative DNS). It is built on lego v5's ACME protocol layer
// (acme/api: JWS, nonces, retries), and drives the order itself so that an
// order interrupted by a crash can be resumed by URL (Request.OrderURL,
// Request.OnOrder) instead of being placed a second time.
//
// The ACME account key and registration live in Config.AccountDir and are
// reused across restarts. Challenge values are computed here and handed to
// the Solver, which returns once its DNS serves them; lego's DNS-01 code
// (propagation checks, CNAME following) is not used, so lego sends no DNS
// queries at all. One Issuer may run many orders at once.
//
// Errors name the operation, the names and the CA, carry the CA's problem
// detail, and can be told apart with errors.Is: ErrUnknownProfile,
// ErrRateLimited (see RetryAfter), ErrChallengeFailed, ErrSolver,
// ErrCAUnreachable, ErrCARefused, ErrNoARI and ErrOrderNotFound.
package issuer
