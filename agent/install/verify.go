// Package install checks an issued certificate against what was asked
// for, writes it and its key atomically into place, runs the reload
// command, and puts the previous files back when anything fails.
package install

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/shared"
)

// ClockSkew is how far in the future a NotBefore may be and still be
// accepted: the agent's clock may lag the CA's a little.
const ClockSkew = 5 * time.Minute

// maxChainCerts bounds the certificates in a chain.
const maxChainCerts = 10

// ErrVerify marks every verification failure.
var ErrVerify = errors.New("certificate rejected")

// Verified is a chain that passed Verify, split into the files it is
// installed as.
type Verified struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	// CertPEM is the leaf, ChainPEM the intermediates (may be empty),
	// FullchainPEM both.
	CertPEM      []byte
	ChainPEM     []byte
	FullchainPEM []byte
}

// Serial returns the leaf's serial number in lowercase hex.
func (v *Verified) Serial() string { return SerialHex(v.Leaf) }

// SerialHex formats a certificate's serial as lowercase hex.
func SerialHex(c *x509.Certificate) string { return fmt.Sprintf("%x", c.SerialNumber) }

// Verify checks chainPEM (leaf first, then intermediates) before anything
// is written: it must be only PEM certificates; the leaf must hold pub,
// carry exactly names (as a set) as DNS SANs and nothing else, be valid
// at now, and not be a CA; each certificate must be signed by the next.
// The chain need not end at a root. Every error wraps ErrVerify.
func Verify(chainPEM string, pub crypto.PublicKey, names []string, now time.Time) (*Verified, error) {
	v, err := verify(chainPEM, pub, names, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	return v, nil
}

func verify(chainPEM string, pub crypto.PublicKey, names []string, now time.Time) (*Verified, error) {
	if len(chainPEM) > shared.MaxChainSize {
		return nil, fmt.Errorf("chain of %d bytes, limit %d", len(chainPEM), shared.MaxChainSize)
	}
	certs, err := ParseChain([]byte(chainPEM))
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	if !keys.SamePublic(pub, leaf.PublicKey) {
		return nil, errors.New("leaf public key is not the key of the request")
	}
	if err := checkNames(leaf, names); err != nil {
		return nil, err
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return nil, errors.New("leaf is a CA certificate")
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil, errors.New("leaf is not valid for TLS server authentication")
	}
	for i, c := range certs {
		if err := checkValidity(c, now); err != nil {
			return nil, fmt.Errorf("certificate %d (%s): %w", i, c.Subject, err)
		}
		if i+1 < len(certs) {
			if err := c.CheckSignatureFrom(certs[i+1]); err != nil {
				return nil, fmt.Errorf("certificate %d (%s) is not signed by certificate %d (%s): %w",
					i, c.Subject, i+1, certs[i+1].Subject, err)
			}
		}
	}
	v := &Verified{Leaf: leaf, Intermediates: certs[1:]}
	v.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	var chain bytes.Buffer
	for _, c := range certs[1:] {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	v.ChainPEM = chain.Bytes()
	v.FullchainPEM = append(append([]byte(nil), v.CertPEM...), v.ChainPEM...)
	return v, nil
}

// ParseChain decodes a PEM chain: one or more CERTIFICATE blocks and
// nothing else but whitespace.
func ParseChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			return nil, fmt.Errorf("chain holds a PEM %q block; want only certificates", block.Type)
		}
		if len(certs) == maxChainCerts {
			return nil, fmt.Errorf("chain has more than %d certificates", maxChainCerts)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chain certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("chain has data that is not PEM")
	}
	if len(certs) == 0 {
		return nil, errors.New("chain holds no certificate")
	}
	return certs, nil
}

func checkNames(leaf *x509.Certificate, names []string) error {
	if len(leaf.IPAddresses) > 0 || len(leaf.EmailAddresses) > 0 || len(leaf.URIs) > 0 {
		return errors.New("leaf carries IP, email or URI names that were not requested")
	}
	if !SameNames(leaf.DNSNames, names) {
		return fmt.Errorf("leaf names %v are not the requested names %v", leaf.DNSNames, names)
	}
	return nil
}

// SameNames reports whether a and b hold the same DNS names, ignoring
// order, case, a trailing dot and repeats.
func SameNames(a, b []string) bool {
	return slices.Equal(nameSet(a), nameSet(b))
}

func nameSet(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = shared.NormalizeName(n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	if now.Add(ClockSkew).Before(c.NotBefore) {
		return fmt.Errorf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(c.NotAfter) {
		return fmt.Errorf("expired at %s", c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
