// Package keytype is the one spelling of key types that both binaries'
// configuration files use: the hub's ACME account keys ([[ca]] key_type)
// and the agent's certificate keys ([[certificate]] key_type).
//
// The names are lego's (its --key-type flag and certcrypto.KeyType, which
// it matches case-insensitively): ec256, ec384, rsa2048, rsa3072, rsa4096.
// The agent used to spell the elliptic curves ecdsa-p256 and ecdsa-p384;
// Canonical still accepts those and says they are old, so a config file
// keeps working while its owner is told the new spelling.
package keytype

// Key types.
const (
	EC256   = "ec256"   // ECDSA on P-256
	EC384   = "ec384"   // ECDSA on P-384
	RSA2048 = "rsa2048" // RSA, 2048-bit modulus
	RSA3072 = "rsa3072"
	RSA4096 = "rsa4096"

	// Default is what a file gets when it names no key type: P-256 is
	// accepted by every CA and client in use and is the cheapest to sign
	// with.
	Default = EC256
)

// all is every key type, Default first.
var all = []string{EC256, EC384, RSA2048, RSA3072, RSA4096}

// old maps spellings older releases accepted to today's.
var old = map[string]string{
	"ecdsa-p256": EC256,
	"ecdsa-p384": EC384,
}

// All returns every key type, Default first.
func All() []string { return append([]string(nil), all...) }

// Valid reports whether s is a key type in today's spelling.
func Valid(s string) bool {
	for _, k := range all {
		if s == k {
			return true
		}
	}
	return false
}

// Canonical returns today's spelling of s. deprecated is set when s is an
// older spelling of it; ok is false when s names no key type at all (kt is
// then ""). Matching is exact: configuration files have always been
// lower-case.
func Canonical(s string) (kt string, deprecated, ok bool) {
	if Valid(s) {
		return s, false, true
	}
	if kt, found := old[s]; found {
		return kt, true, true
	}
	return "", false, false
}
