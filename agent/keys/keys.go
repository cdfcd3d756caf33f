// Package keys makes the agent's private keys and certificate signing
// requests. Keys are generated on the host and never leave it: only the
// CSR (public key and names) goes to the hub.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/certfleet/certfleet/internal/keytype"
)

// Generate makes a new private key of keyType (one of keytype.All()).
func Generate(keyType string) (crypto.Signer, error) {
	var (
		k   crypto.Signer
		err error
	)
	switch keyType {
	case keytype.EC256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keytype.EC384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case keytype.RSA2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case keytype.RSA3072:
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case keytype.RSA4096:
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return nil, fmt.Errorf("generate key: unknown key type %q", keyType)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", keyType, err)
	}
	return k, nil
}

// TypeOf names the key type of a public key in package keytype's terms, or
// returns "" for anything else.
func TypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return keytype.EC256
		case elliptic.P384():
			return keytype.EC384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return keytype.RSA2048
		case 3072:
			return keytype.RSA3072
		case 4096:
			return keytype.RSA4096
		}
	}
	return ""
}

// Marshal encodes a private key as PKCS#8 PEM ("PRIVATE KEY"), which
// every common TLS server reads.
func Marshal(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Parse decodes a PEM private key: PKCS#8, SEC 1 ("EC PRIVATE KEY") or
// PKCS#1 ("RSA PRIVATE KEY"). Only ECDSA and RSA keys are accepted.
func Parse(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse private key: no PEM block")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("parse private key: PEM type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	switch s := k.(type) {
	case *ecdsa.PrivateKey:
		return s, nil
	case *rsa.PrivateKey:
		return s, nil
	default:
		return nil, fmt.Errorf("parse private key: %T is not an ECDSA or RSA key", k)
	}
}

// SamePublic reports whether two public keys are equal.
func SamePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
