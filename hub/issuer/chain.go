package issuer

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// maxChainCerts bounds the certificates accepted in one chain.
const maxChainCerts = 10

// parseChain parses a PEM chain from the CA, leaf first, and returns it
// re-encoded (only CERTIFICATE blocks, canonical PEM) with the parsed
// certificates.
func parseChain(data []byte) (string, []*x509.Certificate, error) {
	var (
		out   strings.Builder
		certs []*x509.Certificate
	)
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return "", nil, fmt.Errorf("parse certificate chain: unexpected PEM block %q", block.Type)
		}
		if len(certs) == maxChainCerts {
			return "", nil, fmt.Errorf("parse certificate chain: more than %d certificates", maxChainCerts)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", nil, fmt.Errorf("parse certificate chain: certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})
	}
	if len(certs) == 0 {
		return "", nil, errors.New("parse certificate chain: no certificates")
	}
	if certs[0].IsCA {
		return "", nil, errors.New("parse certificate chain: the first certificate is a CA, not a leaf")
	}
	return out.String(), certs, nil
}
