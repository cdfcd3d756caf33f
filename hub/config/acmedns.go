package config

import (
	"net/netip"
	"net/url"
	"strings"
)

// acme-dns API defaults.
const (
	DefaultACMEDNSListen  = ":443"
	DefaultACMEDNSMaxBody = 4096
	DefaultACMEDNSRate    = 5.0
	DefaultACMEDNSBurst   = 20
)

// ACMEDNS TLS modes.
const (
	ACMEDNSTLSFiles = "files" // tls_cert and tls_key
	ACMEDNSTLSSelf  = "self"  // a certificate the hub obtains for api_name
	ACMEDNSTLSOff   = "off"   // plain HTTP: loopback only, unless allow_plaintext
)

// ACMEDNSConfig is the acme-dns compatible HTTP API ([acmedns]). It is
// off unless enabled.
type ACMEDNSConfig struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`
	// TLS is "files", "self" or "off".
	TLS     string `toml:"tls"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// APIName is the name the API is reached at, with tls = "self": the
	// hub obtains (and renews) its certificate through its own DNS.
	APIName string `toml:"api_name"`
	// AllowPlaintext serves plain HTTP on a non-loopback address.
	AllowPlaintext bool `toml:"allow_plaintext"`
	// DisableRegistration refuses POST /register: only admins register
	// (`certfleet-hub acmedns register`).
	DisableRegistration bool `toml:"disable_registration"`
	// TrustedProxies (IPs or CIDRs) are the peers whose X-Forwarded-For
	// header names the client; from anyone else it is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// CORSOrigins may call the API from a browser ("*" = any); empty = none.
	CORSOrigins []string `toml:"cors_origins"`
	// MaxBody bounds a request body in bytes.
	MaxBody int `toml:"max_body"`
	// RateLimit is requests per second per client address on /register
	// and /update (burst RateBurst); 0 = off.
	RateLimit float64 `toml:"rate_limit"`
	RateBurst int     `toml:"rate_burst"`
}

func defaultACMEDNS() ACMEDNSConfig {
	return ACMEDNSConfig{
		Listen:    DefaultACMEDNSListen,
		TLS:       ACMEDNSTLSFiles,
		MaxBody:   DefaultACMEDNSMaxBody,
		RateLimit: DefaultACMEDNSRate,
		RateBurst: DefaultACMEDNSBurst,
	}
}

// TrustedProxyPrefixes returns trusted_proxies as prefixes (an IP is its
// own /32 or /128). Validate rejects entries that are neither.
func (a ACMEDNSConfig) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range a.TrustedProxies {
		if p, ok := parseProxy(s); ok {
			out = append(out, p)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
	}
	return netip.Prefix{}, false
}

func (c Config) validateACMEDNS(v *validator) {
	a := c.ACMEDNS
	if !a.Enabled {
		return
	}
	checkListen(v, "acmedns.listen", a.Listen)
	switch a.TLS {
	case ACMEDNSTLSFiles:
		if a.TLSCert == "" {
			v.Required("acmedns.tls_cert", "with tls = \"files\": a PEM certificate chain for the API's name")
		}
		if a.TLSKey == "" {
			v.Required("acmedns.tls_key", "with tls = \"files\": the PEM private key of tls_cert")
		}
	case ACMEDNSTLSSelf:
		zone := strings.TrimSuffix(strings.ToLower(c.DNS.Domain), ".")
		name := strings.TrimSuffix(strings.ToLower(a.APIName), ".")
		switch {
		case name == "":
			v.Required("acmedns.api_name", "with tls = \"self\": the name clients reach the API at, under dns.domain")
		case dnsNameProblem(name) != "":
			v.Invalid("acmedns.api_name", nil, "not a DNS name: %s", dnsNameProblem(name))
		case zone != "" && name != zone && !strings.HasSuffix(name, "."+zone):
			v.Invalid("acmedns.api_name", a.APIName, "want dns.domain (%s) or a name under it, so the hub can answer its challenge", zone)
		}
	case ACMEDNSTLSOff:
		if !a.AllowPlaintext && !loopbackListen(a.Listen) {
			v.Conflict("acmedns.tls", "\"off\" serves API keys in clear: only on a loopback acmedns.listen, unless allow_plaintext = true")
		}
	default:
		v.Invalid("acmedns.tls", a.TLS, "want \"files\", \"self\" or \"off\"")
	}
	for _, p := range a.TrustedProxies {
		if _, ok := parseProxy(p); !ok {
			v.Invalid("acmedns.trusted_proxies", p, "want an IP address or CIDR")
		}
	}
	for _, o := range a.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			v.Invalid("acmedns.cors_origins", o, "want \"*\" or an origin such as \"https://panel.example.org\"")
		}
	}
	if a.MaxBody < 64 || a.MaxBody > 1<<20 {
		v.OutOfRange("acmedns.max_body", a.MaxBody, "want 64 to 1048576 bytes")
	}
	if a.RateLimit < 0 {
		v.OutOfRange("acmedns.rate_limit", a.RateLimit, "want 0 (off) or more requests per second")
	}
	if a.RateLimit > 0 && a.RateBurst < 1 {
		v.OutOfRange("acmedns.rate_burst", a.RateBurst, "want at least 1")
	}
}
