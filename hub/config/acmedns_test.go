package config

import (
	"strings"
	"testing"

	"github.com/certfleet/certfleet/internal/configfile"
)

func TestACMEDNSOffByDefault(t *testing.T) {
	cfg := validConfig(t)
	if cfg.ACMEDNS.Enabled || cfg.ACMEDNS.TLS != ACMEDNSTLSFiles || cfg.ACMEDNS.Listen != DefaultACMEDNSListen {
		t.Fatalf("defaults: %+v", cfg.ACMEDNS)
	}
	// Off: nothing else is checked, so a half-written section does not stop the hub.
	cfg.ACMEDNS.TLS = "bogus"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("disabled section validated: %v", err)
	}
}

func TestACMEDNSParse(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
[dns]
domain = "acme.example.org"
[acmedns]
enabled = true
listen = "127.0.0.1:8443"
tls = "off"
disable_registration = true
trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]
cors_origins = ["https://panel.example.org"]
rate_limit = 2.5
rate_burst = 5
max_body = 2048
`))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.ACMEDNS
	if !a.Enabled || !a.DisableRegistration || a.RateLimit != 2.5 || a.RateBurst != 5 || a.MaxBody != 2048 {
		t.Fatalf("parsed %+v", a)
	}
	p := a.TrustedProxyPrefixes()
	if len(p) != 2 || p[0].String() != "127.0.0.1/32" || p[1].String() != "10.0.0.0/8" {
		t.Fatalf("trusted proxies %v", p)
	}
}

func TestACMEDNSValidate(t *testing.T) {
	enabled := func(f func(a *ACMEDNSConfig)) func(c *Config) {
		return func(c *Config) {
			c.ACMEDNS.Enabled = true
			c.ACMEDNS.TLSCert, c.ACMEDNS.TLSKey = "/etc/hub/api.pem", "/etc/hub/api.key"
			f(&c.ACMEDNS)
		}
	}
	rejects := []struct {
		name, field, detail string
		kind                error
		mutate              func(c *Config)
	}{
		{"bad listen", "acmedns.listen", "host:port", configfile.ErrInvalid, enabled(func(a *ACMEDNSConfig) { a.Listen = "443" })},
		{"files without cert", "acmedns.tls_cert", "required", configfile.ErrRequired, enabled(func(a *ACMEDNSConfig) { a.TLSCert = "" })},
		{"files without key", "acmedns.tls_key", "required", configfile.ErrRequired, enabled(func(a *ACMEDNSConfig) { a.TLSKey = "" })},
		{"unknown tls", "acmedns.tls", "want", configfile.ErrInvalid, enabled(func(a *ACMEDNSConfig) { a.TLS = "yes" })},
		{"plaintext on public address", "acmedns.tls", "loopback", configfile.ErrConflict, enabled(func(a *ACMEDNSConfig) { a.TLS, a.Listen = "off", ":80" })},
		{"self without name", "acmedns.api_name", "required", configfile.ErrRequired, enabled(func(a *ACMEDNSConfig) { a.TLS = "self" })},
		{"self outside the zone", "acmedns.api_name", "under it", configfile.ErrInvalid, enabled(func(a *ACMEDNSConfig) { a.TLS, a.APIName = "self", "api.example.net" })},
		{"bad proxy", "acmedns.trusted_proxies", "bogus", configfile.ErrInvalid, enabled(func(a *ACMEDNSConfig) { a.TrustedProxies = []string{"bogus"} })},
		{"bad origin", "acmedns.cors_origins", "ftp://x", configfile.ErrInvalid, enabled(func(a *ACMEDNSConfig) { a.CORSOrigins = []string{"ftp://x"} })},
		{"tiny body", "acmedns.max_body", "want 64", configfile.ErrOutOfRange, enabled(func(a *ACMEDNSConfig) { a.MaxBody = 10 })},
		{"negative rate", "acmedns.rate_limit", "want 0", configfile.ErrOutOfRange, enabled(func(a *ACMEDNSConfig) { a.RateLimit = -1 })},
		{"rate without burst", "acmedns.rate_burst", "at least 1", configfile.ErrOutOfRange, enabled(func(a *ACMEDNSConfig) { a.RateBurst = 0 })},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			tc.mutate(&c)
			fes := configfile.FieldErrors(c.Validate())
			if len(fes) != 1 || fes[0].Field != tc.field || fes[0].Kind != tc.kind || !strings.Contains(fes[0].Error(), tc.detail) {
				t.Fatalf("want one %v error on %s containing %q, got %v", tc.kind, tc.field, tc.detail, fes)
			}
		})
	}
	accepts := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"files", enabled(func(a *ACMEDNSConfig) {})},
		{"plaintext on loopback", enabled(func(a *ACMEDNSConfig) { a.TLS, a.Listen = "off", "127.0.0.1:0" })},
		{"plaintext forced", enabled(func(a *ACMEDNSConfig) { a.TLS, a.Listen, a.AllowPlaintext = "off", ":80", true })},
		{"self", enabled(func(a *ACMEDNSConfig) { a.TLS, a.APIName = "self", "api.acme.example.org" })},
		{"rate off", enabled(func(a *ACMEDNSConfig) { a.RateLimit, a.RateBurst = 0, 0 })},
		{"cors any", enabled(func(a *ACMEDNSConfig) { a.CORSOrigins = []string{"*"} })},
	}
	for _, tc := range accepts {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			tc.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
