package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// proxyTLS makes a throwaway root and a server certificate for loopback,
// so the proxy has an HTTPS identity of its own that the hub trusts
// through its ca_bundle (as it would trust a real CA's WebPKI chain).
func proxyTLS() (tls.Certificate, []byte, error) {
	now := time.Now()
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate proxy root key: %w", err)
	}
	rs, err := serial()
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("proxy root serial: %w", err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          rs,
		Subject:               pkix.Name{CommonName: "certfleet test CA proxy root " + rs.Text(16)[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create proxy root: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse proxy root: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate proxy key: %w", err)
	}
	ls, err := serial()
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("proxy serial: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: ls,
		Subject:      pkix.Name{CommonName: "certfleet test CA proxy"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leafKey.Public(), rootKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create proxy certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), nil
}
