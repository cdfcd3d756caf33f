package policy

import (
	"crypto/x509"
	"encoding/asn1"

	"github.com/certfleet/certfleet/shared"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
)

// keyUsage bits (RFC 5280 4.2.1.3) only a CA certificate may carry.
const (
	bitKeyCertSign = 5
	bitCRLSign     = 6
)

// CheckExtensions refuses a CSR that asks for what only a CA certificate
// may carry: basicConstraints CA:TRUE, keyUsage keyCertSign or cRLSign, or
// nameConstraints (which RFC 5280 allows in CA certificates only). Public
// CAs ignore most requested extensions, but a CA that copied one would
// issue a certificate that signs others; refusing costs nothing.
func CheckExtensions(csr *x509.CertificateRequest) error {
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(oidBasicConstraints):
			var bc struct {
				IsCA       bool `asn1:"optional"`
				MaxPathLen int  `asn1:"optional,default:-1"`
			}
			if rest, err := asn1.Unmarshal(ext.Value, &bc); err != nil || len(rest) > 0 {
				return shared.Errorf(shared.CodeBadCSRExtension, "csr basicConstraints extension does not parse")
			}
			if bc.IsCA {
				return shared.Errorf(shared.CodeBadCSRExtension, "csr asks for basicConstraints CA:TRUE; only end-entity certificates are issued")
			}
		case ext.Id.Equal(oidKeyUsage):
			var ku asn1.BitString
			if rest, err := asn1.Unmarshal(ext.Value, &ku); err != nil || len(rest) > 0 {
				return shared.Errorf(shared.CodeBadCSRExtension, "csr keyUsage extension does not parse")
			}
			if ku.At(bitKeyCertSign) == 1 {
				return shared.Errorf(shared.CodeBadCSRExtension, "csr asks for keyUsage keyCertSign; only end-entity certificates are issued")
			}
			if ku.At(bitCRLSign) == 1 {
				return shared.Errorf(shared.CodeBadCSRExtension, "csr asks for keyUsage cRLSign; only end-entity certificates are issued")
			}
		case ext.Id.Equal(oidNameConstraints):
			return shared.Errorf(shared.CodeBadCSRExtension, "csr asks for nameConstraints, an extension of CA certificates only")
		}
	}
	return nil
}
