// Package pace fits the hub's issuance to what its CA can take.
//
// A Limiter adapts how many orders are in flight at once (AIMD, as TCP's
// congestion control and Netflix's concurrency-limits do it): it grows
// while order latency stays near its baseline and the slots are in use,
// halves when the CA answers 429/rateLimited, fails with a server error
// or its latency blows up, and stops handing out slots until the CA's
// Retry-After when that is short (LimiterConfig.MaxHold).
//
// Budgets pace orders to a CA's published rate limits (Let's Encrypt's
// new orders per account per 3 hours, certificates per registered domain
// per week). They are token buckets in the GCRA form Let's Encrypt itself
// uses (one timestamp per bucket), kept in a JetStream KV bucket and
// updated with revision checks, so every hub sharing the store spends one
// budget. A spend may be limited to a share of a bucket, so that first
// issuances leave a reserve for renewals.
package pace
