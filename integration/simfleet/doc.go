// Package simfleet simulates a fleet of certfleet agents in one process,
// for load tests and benchmarks of a real certfleet-hub.
//
// A simulated agent is what a real agent looks like to the hub, minus the
// files: it holds real per-agent NATS credentials (enrolled through the
// hub's admin API, as `certfleet-hub agent add` does), connects through
// the agent's own client library (agent/client: the same TLS, reconnect
// back-off with jitter, URL walk, correlation ids and credential
// rotation), says hello on every (re)connect, makes a fresh P-256 key and
// CSR per certificate request, waits for the pushed result (fetching it
// after the agent's poll interval, as the agent does), checks the issued
// leaf against its key and names, and reports its status on connect, after
// every change and every status interval. Keys and certificates stay in
// memory; nothing is installed.
//
// Fleet holds many such agents; Admin drives the hub's admin API (bulk
// enrollment, status pages); Bare runs the same orders with a bare lego
// client for comparison; Run ties them into the benchmark scenario that
// integration/fleetbench_test.go and integration/cmd/certfleet-simfleet
// report (see docs/benchmarks.md).
package simfleet
