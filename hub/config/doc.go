// Package config reads, defaults and validates the hub's TOML configuration
// file, and writes the commented starter file `certfleet-hub init` creates.
//
// ParseConfig starts from DefaultConfig, so a file only names what differs.
// Unknown keys are errors (a misspelt key must not silently fall back to a
// default), durations are strings such as "720h", and every Validate error
// names the field it is about ("dns.domain: must be a DNS name ...").
package config
