package hub

import (
	"strings"
	"time"
)

// TSIGKey authenticates RFC 2136 updates of _acme-challenge TXT records
// under Allow (each name itself and the names below it).
type TSIGKey struct {
	// Name is the key name as clients send it, a DNS name without the
	// trailing dot, lower case.
	Name string `json:"name"`
	// Algorithm is hmac-sha256 or hmac-sha512.
	Algorithm string `json:"algorithm"`
	// Secret is the base64 shared secret.
	Secret  string    `json:"secret"`
	Allow   []string  `json:"allow"`
	Created time.Time `json:"created"`
}

// TSIGAllows reports whether k may change the TXT records at fqdn: an
// "_acme-challenge." name whose base is an allowed name or below one.
func (k TSIGKey) TSIGAllows(fqdn string) bool {
	base, ok := strings.CutPrefix(strings.TrimSuffix(strings.ToLower(fqdn), "."), "_acme-challenge.")
	if !ok || base == "" {
		return false
	}
	for _, a := range k.Allow {
		if base == a || strings.HasSuffix(base, "."+a) {
			return true
		}
	}
	return false
}
