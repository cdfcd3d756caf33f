// Package service is the running hub: it starts (or joins) NATS, opens the
// JetStream store, serves the challenge DNS, answers agents and the admin
// CLI, and works the durable queue of certificate requests through the ACME
// CA, as many at once as the CA takes (package pace) and paced to its rate
// limits; requests that must wait are parked outside the queue and released
// by priority (waiting.go). Hub.Run blocks until its context is cancelled.
//
// Every listing (admin status and agent list, alerts, alarms, metrics, the
// dashboard) reads the hub's fleet view (hub/fleet), which the store's
// watches keep current; agents' status reports are buffered and written
// once a second per agent (statuswriter.go).
//
// Several hubs may share one store on a NATS cluster. What keeps that
// correct: request claims with a heartbeat and fenced takeover (claim.go),
// one hub doing the housekeeping under a lease (leader.go), hubs waiting
// for each other's DNS before a CA validates (peers.go), and DNS answering
// SERVFAIL while cut off from NATS (dnsfresh.go).
package service
