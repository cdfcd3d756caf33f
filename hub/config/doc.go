// Package config reads, defaults and validates the hub's TOML configuration
// file, and writes the commented starter file `certfleet-hub init` creates.
//
// It follows the idiom of internal/configfile, shared with the agent:
// ParseConfig starts from DefaultConfig, so a file only names what differs;
// unknown keys are errors naming the key and its line (a misspelt key must
// not silently fall back to a default); durations are strings such as
// "720h"; old spellings are read and reported by Deprecations; and Validate
// returns every problem as a configfile.FieldError naming its field, with a
// kind errors.Is matches ("dns.domain: required: ...").
package config
