// Package service is the running hub: it starts (or joins) NATS, opens the
// JetStream store, serves the challenge DNS, answers agents and the admin
// CLI, and works the durable queue of certificate requests through the ACME
// CA. Hub.Run blocks until its context is cancelled.
package service
