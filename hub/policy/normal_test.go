package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/shared"
)

// TestNamesNotNormalised: a name that differs from its normal form is
// refused with name_not_normalised before any order, never repaired. Each
// of these was repaired (and then checked against the allow list) before.
func TestNamesNotNormalised(t *testing.T) {
	keys(t)
	// Every repaired form is allowed, so only the normal-form check refuses.
	allow := []string{"www.example.org", "k.example.org", "a-b.example.org", "ab--cd.example.org", "xn--zz.example.org"}
	san := func(n string) func() string {
		return func() string { return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{n}}) }
	}
	cn := func(n string) func() string {
		return func() string {
			return makeCSR(t, p256, x509.CertificateRequest{Subject: pkix.Name{CommonName: n}, DNSNames: []string{"www.example.org"}})
		}
	}
	tests := []struct {
		name string
		csr  func() string
		want string // in the message
	}{
		{"upper case san", san("WWW.example.org"), "upper-case"},
		{"upper case cn", cn("WWW.example.org"), "upper-case"},
		{"trailing dot", san("www.example.org."), "trailing dot"},
		{"leading space", san(" www.example.org"), "white space"},
		{"trailing space cn", cn("www.example.org "), "white space"},
		{"kelvin sign cn", cn("\u212a.example.org"), "U+212A"},
		{"u-label cn", cn("bücher.example.org"), `"xn--bcher-kva.example.org"`},
		{"right-to-left override cn", cn("www.\u202egro.example.org"), "U+202E"},
		{"underscore", san("a_b.example.org"), `'_'`},
		{"bogus a-label", san("xn--zz.example.org"), "not a valid IDNA A-label"},
		{"upper-case a-label", san("XN--bcher-kva.example.org"), "upper-case"},
		{"reserved hyphens", san("ab--cd.example.org"), "positions 3 and 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Check(tt.csr(), "web1", allow, 10)
			if got := shared.CodeOf(err); got != shared.CodeNameNotNormalised {
				t.Fatalf("code = %s (%v), want %s", got, err, shared.CodeNameNotNormalised)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("message %q does not say %q", err, tt.want)
			}
			if !shared.CodeOf(err).Permanent() {
				t.Fatal("name_not_normalised must be permanent")
			}
		})
	}
}

func TestNamesNormalisedAccepted(t *testing.T) {
	keys(t)
	for _, n := range []string{"www.example.org", "xn--bcher-kva.example.org", "*.example.org", "a-b.example.org", "0.example.org"} {
		t.Run(n, func(t *testing.T) {
			if err := CheckNormalised(n); err != nil {
				t.Fatal(err)
			}
			csr := makeCSR(t, p256, x509.CertificateRequest{Subject: pkix.Name{CommonName: n}, DNSNames: []string{n}})
			if _, names, err := Check(csr, "web1", []string{"**.example.org", "=*.example.org"}, 10); err != nil || len(names) != 1 || names[0] != n {
				t.Fatalf("Check = %v, %v", names, err)
			}
		})
	}
}

// FuzzCheckNormalised: whatever CheckNormalised accepts is its own normal
// form, pure ASCII LDH, so the name checked is the name the CA sees.
func FuzzCheckNormalised(f *testing.F) {
	for _, s := range []string{"www.example.org", "WWW.example.org", "\u212a.example.org", "xn--bcher-kva.example.org", "xn--zz.x", "a.", " a", "*.a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckNormalised(s) != nil {
			return
		}
		if shared.NormalizeName(s) != s {
			t.Fatalf("accepted %q, whose normal form is %q", s, shared.NormalizeName(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				t.Fatalf("accepted non-ASCII %q", s)
			}
		}
	})
}
