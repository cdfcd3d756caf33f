package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// maxCNLength is the X.509 upper bound for a commonName.
const maxCNLength = 64

// CSR builds a PEM certificate signing request for names (normalized DNS
// names) signed by key. The SANs are names in order; the subject CN is the
// first non-wildcard name that fits in 64 characters, or empty.
func CSR(key crypto.Signer, names []string) ([]byte, error) {
	if len(names) == 0 {
		return nil, errors.New("create csr: no names")
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: CommonName(names)},
		DNSNames: append([]string(nil), names...),
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// CommonName picks the CSR's subject CN from names; see CSR.
func CommonName(names []string) string {
	for _, n := range names {
		if !strings.HasPrefix(n, "*.") && len(n) <= maxCNLength {
			return n
		}
	}
	return ""
}
