// Package integration holds certfleet's end-to-end tests: the real
// certfleet-hub and certfleet-agent binaries, built once, run as processes
// against an in-process Pebble CA and a stand-in public resolver, all on
// loopback. See package fleet for the harness.
package integration
