// Package policy decides whether an agent may have a certificate for a CSR.
// It runs before any order is placed, so a refused request costs the CA
// nothing, and every refusal names the exact name and reason.
package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"

	"github.com/certfleet/certfleet/shared"
)

// MinRSABits is the smallest RSA key accepted.
const MinRSABits = 2048

// ParseCSR decodes a PEM CSR and checks its signature.
func ParseCSR(pemCSR string) (*x509.CertificateRequest, error) {
	block, rest := pem.Decode([]byte(pemCSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr is not a PEM CERTIFICATE REQUEST")
	}
	if hasPEM(rest) {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr has more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr signature invalid: %v", err)
	}
	return csr, nil
}

func hasPEM(b []byte) bool {
	blk, _ := pem.Decode(b)
	return blk != nil
}

// CheckKey accepts ECDSA P-256/P-384 and RSA of at least MinRSABits;
// these are what public CAs issue for.
func CheckKey(csr *x509.CertificateRequest) error {
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return shared.Errorf(shared.CodeWeakKey, "ECDSA curve %s not accepted; use P-256 or P-384", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return shared.Errorf(shared.CodeWeakKey, "RSA key of %d bits; at least %d required", k.N.BitLen(), MinRSABits)
		}
		if k.N.BitLen() > 8192 {
			return shared.Errorf(shared.CodeWeakKey, "RSA key of %d bits; at most 8192 accepted", k.N.BitLen())
		}
	default:
		return shared.Errorf(shared.CodeWeakKey, "key type %T not accepted; use ECDSA P-256/P-384 or RSA >= %d", csr.PublicKey, MinRSABits)
	}
	return nil
}

// Names returns the CSR's DNS names (SANs plus the CN) and checks each:
// already in normal form (see CheckNormalised), syntax, no IP/e-mail/URI
// identifiers, no duplicates, at most maxNames. The CN, if set, must be one of the SANs or is added as one.
func Names(csr *x509.CertificateRequest, maxNames int) ([]string, error) {
	if len(csr.IPAddresses) > 0 {
		return nil, shared.Errorf(shared.CodeIPNotAllowed, "csr asks for IP address %s; only DNS names are issued", csr.IPAddresses[0])
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr asks for e-mail or URI identifiers; only DNS names are issued")
	}
	var names []string
	seen := map[string]bool{}
	for _, raw := range csr.DNSNames {
		if err := CheckNormalised(raw); err != nil {
			return nil, err
		}
		n := raw
		if seen[n] {
			return nil, shared.Errorf(shared.CodeDuplicateName, "name %q appears twice in the csr", n)
		}
		seen[n] = true
		names = append(names, n)
	}
	cn := csr.Subject.CommonName
	if cn != "" {
		if err := CheckNormalised(cn); err != nil {
			return nil, err
		}
	}
	if cn != "" && !seen[cn] {
		seen[cn] = true
		names = append(names, cn)
	}
	if len(names) == 0 {
		return nil, shared.Errorf(shared.CodeBadCSR, "csr names no DNS name")
	}
	if len(names) > maxNames {
		return nil, shared.Errorf(shared.CodeTooManyNames, "csr has %d names; this hub allows at most %d", len(names), maxNames)
	}
	for _, n := range names {
		if err := shared.ValidateDNSName(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// CheckAllowed refuses the first name no pattern allows.
func CheckAllowed(agentID string, allow []string, names []string) error {
	for _, n := range names {
		if !shared.Allowed(allow, n) {
			return shared.Errorf(shared.CodeNameNotAllowed, "agent %q may not have %q (allow list: %v)", agentID, n, allow)
		}
	}
	return nil
}

// Check runs every check on a PEM CSR for an agent and returns the parsed
// CSR and its sorted names.
func Check(pemCSR, agentID string, allow []string, maxNames int) (*x509.CertificateRequest, []string, error) {
	csr, err := ParseCSR(pemCSR)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckKey(csr); err != nil {
		return nil, nil, err
	}
	if err := CheckExtensions(csr); err != nil {
		return nil, nil, err
	}
	names, err := Names(csr, maxNames)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckAllowed(agentID, allow, names); err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	return csr, names, nil
}
