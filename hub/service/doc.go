// Package service is the running hub: it starts (or joins) NATS, opens the
// JetStream store, serves the challenge DNS, answers agents and the admin
// CLI, and works the durable queue of certificate requests through the ACME
// CA. Hub.Run blocks until its context is cancelled.
//
// Several hubs may share one store on a NATS cluster. What keeps that
// correct: request claims with a heartbeat and fenced takeover (claim.go),
// one hub doing the housekeeping under a lease (leader.go), hubs waiting
// for each other's DNS before a CA validates (peers.go), and DNS answering
// SERVFAIL while cut off from NATS (dnsfresh.go).
package service
