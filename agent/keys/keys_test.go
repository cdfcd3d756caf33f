package keys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/internal/keytype"
)

func TestGenerateEachType(t *testing.T) {
	for _, kt := range keytype.All() {
		t.Run(kt, func(t *testing.T) {
			if testing.Short() && kt == keytype.RSA4096 {
				t.Skip("slow")
			}
			k, err := Generate(kt)
			if err != nil {
				t.Fatal(err)
			}
			if got := TypeOf(k.Public()); got != kt {
				t.Fatalf("TypeOf = %q", got)
			}
			pemKey, err := Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(pemKey), "-----BEGIN PRIVATE KEY-----") {
				t.Fatalf("not PKCS#8 PEM: %.40s", pemKey)
			}
			back, err := Parse(pemKey)
			if err != nil {
				t.Fatal(err)
			}
			if !SamePublic(back.Public(), k.Public()) {
				t.Fatal("round trip changed the key")
			}
		})
	}
	if _, err := Generate("dsa"); err == nil {
		t.Error("unknown key type accepted")
	}
}

func TestParseLegacyFormats(t *testing.T) {
	ec, _ := Generate(keytype.EC256)
	der, _ := x509.MarshalECPrivateKey(ec.(*ecdsa.PrivateKey))
	if k, err := Parse(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil || !SamePublic(k.Public(), ec.Public()) {
		t.Errorf("SEC 1: %v", err)
	}
	r, _ := Generate(keytype.RSA2048)
	der = x509.MarshalPKCS1PrivateKey(r.(*rsa.PrivateKey))
	if k, err := Parse(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})); err != nil || !SamePublic(k.Public(), r.Public()) {
		t.Errorf("PKCS#1: %v", err)
	}
	for name, in := range map[string]string{
		"empty":     "",
		"not pem":   "hello",
		"cert type": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad der":   "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCSR(t *testing.T) {
	long := strings.Repeat("a", 60) + ".example.org"
	cases := []struct {
		name   string
		names  []string
		wantCN string
	}{
		{"first name", []string{"www.example.org", "example.org"}, "www.example.org"},
		{"skips wildcard", []string{"*.example.org", "example.org"}, "example.org"},
		{"skips long", []string{long, "b.example.org"}, "b.example.org"},
		{"only wildcard", []string{"*.example.org"}, ""},
	}
	k, _ := Generate(keytype.EC256)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := CSR(k, tc.names)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(p)
			if block == nil || block.Type != "CERTIFICATE REQUEST" {
				t.Fatalf("not a PEM CSR: %s", p)
			}
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatal(err)
			}
			if csr.Subject.CommonName != tc.wantCN {
				t.Errorf("CN %q, want %q", csr.Subject.CommonName, tc.wantCN)
			}
			if strings.Join(csr.DNSNames, ",") != strings.Join(tc.names, ",") {
				t.Errorf("SANs %v", csr.DNSNames)
			}
			if !SamePublic(csr.PublicKey, k.Public()) {
				t.Error("CSR holds another key")
			}
		})
	}
	if _, err := CSR(k, nil); err == nil {
		t.Error("CSR without names accepted")
	}
}
