// Package pebble runs Let's Encrypt's Pebble test ACME CA in-process, for
// certfleet's tests and the demo. It imports Pebble's ca, db, va and wfe
// packages (as CoreDNS's ACME tests do) and serves the ACME API and the
// management API over HTTPS on loopback, with a TLS root made at start.
//
// Validation is real: Pebble's VA sends TXT queries over TCP to
// Options.DNSServer, which must answer like a recursive resolver (Pebble
// does not chase CNAMEs). Reuse of valid authorizations is off by default so
// every order is validated, and the VA does not sleep before validating.
//
// The handler is wrapped to count created accounts, created orders and
// finalized orders (for "no duplicate order" assertions), to inject ACME
// rateLimited responses on demand, and optionally to send a Retry-After
// header on challenge responses so that clients poll sooner than lego's
// fixed five seconds.
package pebble
