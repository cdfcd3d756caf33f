package certstore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/certstore"
)

// testBundle issues a leaf for name from a throwaway CA and intermediate,
// with an RSA or ECDSA key, expiring after days.
func testBundle(t testing.TB, name string, rsaKey bool, days int) certstore.Bundle {
	t.Helper()
	newKey := func() crypto.Signer {
		if rsaKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, pub any, signer crypto.Signer) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		return n
	}
	rootKey, interKey, leafKey := newKey(), newKey(), newKey()
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "certfleet test root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	root := issue(caTmpl, caTmpl, rootKey.Public(), rootKey)
	interTmpl := *caTmpl
	interTmpl.SerialNumber, interTmpl.Subject = serial(), pkix.Name{CommonName: "certfleet test intermediate"}
	inter := issue(&interTmpl, root, interKey.Public(), rootKey)
	leaf := issue(&x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, days), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, inter, leafKey.Public(), interKey)
	return certstore.Bundle{Leaf: leaf, Chain: []*x509.Certificate{inter}, Key: leafKey}
}
