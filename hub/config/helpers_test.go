package config

import (
	"strings"
	"testing"

	"github.com/certfleet/certfleet/internal/configfile"
)

// minimalTOML is the smallest file that validates.
const minimalTOML = `
data_dir = "/var/lib/certfleet-hub"
[dns]
domain = "acme.example.org"
[nats]
advertise = ["tls://hub.example.org:4222"]
`

// validConfig returns a parsed, valid configuration to mutate.
func validConfig(tb testing.TB) Config {
	tb.Helper()
	cfg, err := ParseConfig([]byte(minimalTOML))
	if err != nil {
		tb.Fatalf("ParseConfig(minimal): %v", err)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("minimal config does not validate: %v", err)
	}
	return cfg
}

func fieldNames(err error) []string {
	var out []string
	for _, fe := range configfile.FieldErrors(err) {
		out = append(out, fe.Field)
	}
	return out
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
