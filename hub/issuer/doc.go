// Package issuer obtains certificates from an ACME CA for CSRs made
// elsewhere, answering DNS-01 challenges through a Solver (the hub's own
// authoritative DNS). It is built on lego v5's library packages.
//
// The ACME account key and registration live in Config.AccountDir and are
// reused across restarts. Challenge values are computed here and handed to
// the Solver, which returns once its DNS serves them; lego's own DNS
// pre-checks and CNAME following are switched off, so lego sends no DNS
// queries at all. One Issuer may run many orders at once.
//
// Errors name the operation, the names and the CA, carry the CA's problem
// detail, and can be told apart with errors.Is: ErrUnknownProfile,
// ErrRateLimited (see RetryAfter), ErrChallengeFailed, ErrSolver,
// ErrCAUnreachable, ErrCARefused and ErrNoARI.
package issuer
