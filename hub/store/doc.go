// Package store keeps all of the hub's state in NATS JetStream: key-value
// buckets for agents, delegated domains, certificates, request states,
// results, agent status and live DNS-01 challenges, the CA rate-limit
// budgets (see package pace) and the requests waiting outside the queue for
// them; a work-queue stream of agents' certificate requests with the hub's
// durable pull consumer; and the audit stream.
//
// Every accessor takes a context and gives each JetStream call its own
// timeout (Options.Timeout), so a stalled server surfaces as an error rather
// than a hang. Missing keys are reported as ErrNotFound (use errors.Is).
// Keys are validated before use: agent ids and request ids by the shared
// protocol rules, domain names as DNS names, so a bad input is a clear
// error, never a malformed subject.
package store
