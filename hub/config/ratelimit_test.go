package config

import "testing"

// TestRateLimitDefaultOn: response-rate limiting is on unless the file
// turns it off with rate_limit = 0.
func TestRateLimitDefaultOn(t *testing.T) {
	if got := validConfig(t).DNS.RateLimit; got != DefaultRateLimit || got <= 0 {
		t.Fatalf("rate_limit by default = %d, want %d", got, DefaultRateLimit)
	}
	off, err := ParseConfig([]byte(`
data_dir = "/var/lib/certfleet-hub"
[dns]
domain = "acme.example.org"
rate_limit = 0
[nats]
advertise = ["tls://hub.example.org:4222"]
`))
	if err != nil || off.DNS.RateLimit != 0 {
		t.Fatalf("rate_limit = 0: %d, %v", off.DNS.RateLimit, err)
	}
}
