// Package fleet is a hub's in-memory view of its fleet: per registered
// agent its record, latest status, certificate records (without PEM
// chains) and the latest request state per certificate. A Feed keeps it
// current from the store's bucket watches alone, so hubs that share a
// store each keep their own and see every hub's changes.
//
// Reads are cheap and consistent: a reader takes immutable per-agent
// values under a read lock, and pages walk a sorted index of agent ids
// from a cursor, so no read sorts or copies the whole fleet. The status,
// agent list, alerts, alarms, metrics and dashboard of the hub read it
// instead of listing buckets.
package fleet
