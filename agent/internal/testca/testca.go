// Package testca is a small certificate authority for the agent's tests:
// a root and an intermediate (ECDSA P-256) that issue leaf certificates
// for CSRs or public keys, plus deliberately wrong chains. It is only
// imported by tests.
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a root and an intermediate.
type CA struct {
	Root     *x509.Certificate
	Inter    *x509.Certificate
	rootKey  crypto.Signer
	interKey crypto.Signer
}

// New makes a fresh CA valid from an hour ago for ten years.
func New() (*CA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "certfleet test root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	interTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "certfleet test intermediate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	inter, _ := x509.ParseCertificate(interDER)
	return &CA{Root: root, Inter: inter, rootKey: rootKey, interKey: interKey}, nil
}

// NewTB is New for tests.
func NewTB(tb testing.TB) *CA {
	tb.Helper()
	ca, err := New()
	if err != nil {
		tb.Fatalf("test ca: %v", err)
	}
	return ca
}

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

// Leaf describes a leaf to issue. Zero times mean "valid from a minute
// ago for Lifetime (default 90 days)".
type Leaf struct {
	Pub       crypto.PublicKey
	Names     []string
	NotBefore time.Time
	NotAfter  time.Time
	Lifetime  time.Duration
	IPs       []net.IP
	IsCA      bool
	EKU       []x509.ExtKeyUsage
}

// Issue signs a leaf with the intermediate and returns the chain PEM
// (leaf, intermediate) and the leaf.
func (c *CA) Issue(l Leaf) (string, *x509.Certificate, error) {
	nb, na := l.NotBefore, l.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	if na.IsZero() {
		life := l.Lifetime
		if life == 0 {
			life = 90 * 24 * time.Hour
		}
		na = nb.Add(life)
	}
	eku := l.EKU
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		DNSNames:              l.Names,
		IPAddresses:           l.IPs,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  l.IsCA,
	}
	if len(l.Names) > 0 {
		tmpl.Subject.CommonName = l.Names[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Inter, l.Pub, c.interKey)
	if err != nil {
		return "", nil, fmt.Errorf("issue: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return string(PEM(leaf)) + string(PEM(c.Inter)), leaf, nil
}

// IssueCSR checks a PEM CSR and issues for its key and DNS names, valid
// from notBefore (zero: a minute ago) for lifetime (zero: 90 days).
func (c *CA) IssueCSR(csrPEM string, notBefore time.Time, lifetime time.Duration) (string, *x509.Certificate, error) {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return "", nil, errors.New("csr: no CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return "", nil, fmt.Errorf("csr signature: %w", err)
	}
	return c.Issue(Leaf{Pub: csr.PublicKey, Names: csr.DNSNames, NotBefore: notBefore, Lifetime: lifetime})
}

// PEM encodes a certificate.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
