package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/certfleet/certfleet/shared"
)

var (
	keysOnce sync.Once
	p256     crypto.Signer
	rsa1024  crypto.Signer
	p224     crypto.Signer
	edKey    crypto.Signer
)

func keys(tb testing.TB) {
	tb.Helper()
	keysOnce.Do(func() {
		p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p224, _ = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		rsa1024, _ = rsa.GenerateKey(rand.Reader, 1024)
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
	})
}

func makeCSR(tb testing.TB, key crypto.Signer, tmpl x509.CertificateRequest) string {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		tb.Fatalf("create csr: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCheck(t *testing.T) {
	keys(t)
	allow := []string{"www.example.org", "example.org", "*.corp.example.org", "=*.example.org"}
	tests := []struct {
		name  string
		csr   func() string
		code  shared.Code // "" = accepted
		names []string
	}{
		{"one name", func() string { return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}}) }, "", []string{"www.example.org"}},
		{"apex and wildcard", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"example.org", "*.example.org"}})
		}, "", []string{"*.example.org", "example.org"}},
		{"cn added", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{Subject: pkix.Name{CommonName: "www.example.org"}, DNSNames: []string{"a.corp.example.org"}})
		}, "", []string{"a.corp.example.org", "www.example.org"}},
		{"outside allow list", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"evil.example.com"}})
		}, shared.CodeNameNotAllowed, nil},
		{"wildcard not listed", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"*.corp.example.org"}})
		}, shared.CodeNameNotAllowed, nil},
		{"duplicate", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org", "www.example.org"}})
		}, shared.CodeDuplicateName, nil},
		{"ip address", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}})
		}, shared.CodeIPNotAllowed, nil},
		{"ip as dns name", func() string { return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"192.0.2.1"}}) }, shared.CodeIPNotAllowed, nil},
		{"email", func() string {
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}, EmailAddresses: []string{"a@example.org"}})
		}, shared.CodeBadCSR, nil},
		{"bad syntax", func() string { return makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"a..example.org"}}) }, shared.CodeInvalidName, nil},
		{"no names", func() string { return makeCSR(t, p256, x509.CertificateRequest{}) }, shared.CodeBadCSR, nil},
		{"too many names", func() string {
			var n []string
			for i := 0; i < 4; i++ {
				n = append(n, strings.Repeat("a", i+1)+".corp.example.org")
			}
			return makeCSR(t, p256, x509.CertificateRequest{DNSNames: n})
		}, shared.CodeTooManyNames, nil},
		{"rsa 1024", func() string {
			return makeCSR(t, rsa1024, x509.CertificateRequest{DNSNames: []string{"www.example.org"}})
		}, shared.CodeWeakKey, nil},
		{"p224", func() string { return makeCSR(t, p224, x509.CertificateRequest{DNSNames: []string{"www.example.org"}}) }, shared.CodeWeakKey, nil},
		{"ed25519", func() string {
			return makeCSR(t, edKey, x509.CertificateRequest{DNSNames: []string{"www.example.org"}})
		}, shared.CodeWeakKey, nil},
		{"not pem", func() string { return "hello" }, shared.CodeBadCSR, nil},
		{"wrong pem type", func() string {
			return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}))
		}, shared.CodeBadCSR, nil},
		{"garbage der", func() string {
			return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2, 3}}))
		}, shared.CodeBadCSR, nil},
		{"bad signature", func() string {
			s := makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}})
			blk, _ := pem.Decode([]byte(s))
			blk.Bytes[len(blk.Bytes)-3] ^= 0xff
			return string(pem.EncodeToMemory(blk))
		}, shared.CodeBadCSR, nil},
		{"two pem blocks", func() string {
			s := makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}})
			return s + s
		}, shared.CodeBadCSR, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, names, err := Check(tt.csr(), "web1", allow, 3)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if strings.Join(names, ",") != strings.Join(tt.names, ",") {
					t.Fatalf("names = %v, want %v", names, tt.names)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %s", tt.code)
			}
			if got := shared.CodeOf(err); got != tt.code {
				t.Fatalf("code = %s, want %s (%v)", got, tt.code, err)
			}
		})
	}
}

func TestRefusalNamesTheName(t *testing.T) {
	keys(t)
	csr := makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org", "evil.example.com"}})
	_, _, err := Check(csr, "web1", []string{"www.example.org"}, 100)
	if err == nil || !strings.Contains(err.Error(), `"evil.example.com"`) || !strings.Contains(err.Error(), "web1") {
		t.Fatalf("refusal does not name agent and name: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	keys(f)
	f.Add(makeCSR(f, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}}))
	f.Add(makeCSR(f, p256, x509.CertificateRequest{DNSNames: []string{"*.example.org", "example.org"}}))
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n")
	f.Fuzz(func(t *testing.T, pemCSR string) {
		allow := []string{"www.example.org", "*.corp.example.org"}
		_, names, err := Check(pemCSR, "web1", allow, 100)
		if err != nil {
			if shared.CodeOf(err) == shared.CodeInternal {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		for _, n := range names {
			if !shared.Allowed(allow, n) {
				t.Fatalf("accepted %q outside the allow list", n)
			}
		}
	})
}
