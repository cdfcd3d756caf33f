package acmedns

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
)

// Formats acme-dns accepts.
const (
	// KeyLength is the length of an API key (X-Api-Key).
	KeyLength = 40
	// TXTLength is the length of a DNS-01 TXT value (a base64url SHA-256).
	TXTLength = 43
	// BcryptCost is what acme-dns hashes keys with.
	BcryptCost = 10
	// keyAlphabet is acme-dns's key alphabet (64 symbols: no modulo bias).
	keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz1234567890-_"
)

var subdomainRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// ValidSubdomain reports whether s is one DNS label as acme-dns accepts.
func ValidSubdomain(s string) bool { return subdomainRe.MatchString(s) }

// ValidTXT reports whether s is 43 characters of the base64url alphabet.
func ValidTXT(s string) bool { return len(s) == TXTLength && base64URLOnly(s) }

// ValidKey reports whether s has the form of an API key.
func ValidKey(s string) bool { return len(s) == KeyLength && base64URLOnly(s) }

func base64URLOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseUsername returns u as a canonical lower-case UUID.
func ParseUsername(u string) (string, error) {
	id, err := uuid.Parse(u)
	if err != nil {
		return "", fmt.Errorf("username %q: %w", u, err)
	}
	return id.String(), nil
}

// ParseAllowFrom checks CIDRs as acme-dns does (brackets around IPv6
// addresses are dropped) and returns them cleaned. Any invalid entry is an
// error naming it.
func ParseAllowFrom(cidrs []string) ([]string, error) {
	out := make([]string, 0, len(cidrs))
	for _, c := range cidrs {
		clean := strings.NewReplacer("[", "", "]", "").Replace(strings.TrimSpace(c))
		if _, err := netip.ParsePrefix(clean); err != nil {
			return nil, fmt.Errorf("allowfrom %q: want a CIDR such as 192.0.2.0/24: %w", c, err)
		}
		out = append(out, clean)
	}
	return out, nil
}

// allowedFrom reports whether addr is in one of cidrs; an empty list
// allows every address (acme-dns behaviour).
func allowedFrom(cidrs []string, addr netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err == nil && addr.IsValid() && p.Contains(addr) {
			return true
		}
	}
	return false
}

// NewRegistration makes a registration with a fresh username, subdomain
// and key, and returns it with the key in clear (shown once).
func NewRegistration(allowFrom []string, source string, now time.Time) (hub.ACMEDNSRegistration, string, error) {
	af, err := ParseAllowFrom(allowFrom)
	if err != nil {
		return hub.ACMEDNSRegistration{}, "", err
	}
	key := make([]byte, KeyLength)
	if _, err := rand.Read(key); err != nil {
		return hub.ACMEDNSRegistration{}, "", fmt.Errorf("generate key: %w", err)
	}
	for i := range key {
		key[i] = keyAlphabet[int(key[i])%len(keyAlphabet)]
	}
	hash, err := bcrypt.GenerateFromPassword(key, BcryptCost)
	if err != nil {
		return hub.ACMEDNSRegistration{}, "", fmt.Errorf("hash key: %w", err)
	}
	return hub.ACMEDNSRegistration{
		Username:     uuid.NewString(),
		PasswordHash: string(hash),
		Subdomain:    uuid.NewString(),
		AllowFrom:    af,
		Source:       source,
		Created:      now.UTC(),
	}, string(key), nil
}
