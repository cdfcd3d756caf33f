// Package metrics is the hub's Prometheus endpoint. Fleet-wide gauges are
// read from a Fleet snapshot at scrape time (the hub builds it from its
// in-memory fleet view, hub/fleet, and it is cached briefly, so several
// scrapers do not each walk the fleet); event counters (orders) are kept in
// memory since the hub started.
//
// Cardinality is bounded: labels come from fixed sets (states, DNS types
// and rcodes, drop reasons, error codes), the configured [[ca]] names, or
// one series per certificate (agent, cert) for the seconds to expiry.
package metrics
