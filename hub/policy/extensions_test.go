package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/certfleet/certfleet/shared"
)

func mustDER(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// keyUsageExt encodes a keyUsage extension with the given bits set.
func keyUsageExt(tb testing.TB, bits ...int) pkix.Extension {
	b := make([]byte, 1)
	for _, n := range bits {
		b[0] |= 0x80 >> n
	}
	return pkix.Extension{Id: oidKeyUsage, Critical: true, Value: mustDER(tb, asn1.BitString{Bytes: b, BitLength: 7})}
}

// TestCSRExtensions: a CSR asking for what only a CA certificate may carry
// is refused with bad_csr_extension; ordinary end-entity requests pass.
func TestCSRExtensions(t *testing.T) {
	keys(t)
	type bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	tests := []struct {
		name string
		ext  []pkix.Extension
		ok   bool
	}{
		{"ca true", []pkix.Extension{{Id: oidBasicConstraints, Critical: true, Value: mustDER(t, bc{IsCA: true, MaxPathLen: 0})}}, false},
		{"ca false", []pkix.Extension{{Id: oidBasicConstraints, Critical: true, Value: mustDER(t, bc{MaxPathLen: -1})}}, true},
		{"garbage basic constraints", []pkix.Extension{{Id: oidBasicConstraints, Value: []byte{0x30, 0x03, 0x01, 0x01}}}, false},
		{"key cert sign", []pkix.Extension{keyUsageExt(t, 0, bitKeyCertSign)}, false},
		{"crl sign", []pkix.Extension{keyUsageExt(t, bitCRLSign)}, false},
		{"digital signature", []pkix.Extension{keyUsageExt(t, 0, 2)}, true},
		{"name constraints", []pkix.Extension{{Id: oidNameConstraints, Critical: true, Value: mustDER(t, asn1.RawValue{Tag: 16, Class: 0, IsCompound: true})}}, false},
		{"unrelated extension", []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: mustDER(t, "x")}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := makeCSR(t, p256, x509.CertificateRequest{DNSNames: []string{"www.example.org"}, ExtraExtensions: tt.ext})
			_, _, err := Check(csr, "web1", []string{"www.example.org"}, 10)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := shared.CodeOf(err); got != shared.CodeBadCSRExtension {
				t.Fatalf("code = %s (%v), want %s", got, err, shared.CodeBadCSRExtension)
			}
			if !shared.CodeOf(err).Permanent() {
				t.Fatal("bad_csr_extension must be permanent")
			}
		})
	}
}
