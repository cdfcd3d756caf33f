package certstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// EncodePFX encodes a bundle as PKCS#12 with modern algorithms
// (PBES2/AES-256, HMAC-SHA-256: Windows Server 2019+, OpenSSL 1.1.1+,
// Java 12+), for a pfx file output.
func EncodePFX(b Bundle, password string) ([]byte, error) {
	data, err := pkcs12.Modern2023.Encode(b.Key, b.Leaf, b.Chain, password)
	if err != nil {
		return nil, fmt.Errorf("encode pfx: %w", err)
	}
	return data, nil
}

// transientPFX encodes a bundle for import only (never written to
// disk), with a random password and the 3DES/SHA-1 algorithms every
// Windows version and wine import.
func transientPFX(b Bundle) (data []byte, password string, err error) {
	var p [16]byte
	if _, err := rand.Read(p[:]); err != nil {
		return nil, "", err
	}
	password = hex.EncodeToString(p[:])
	data, err = pkcs12.LegacyDES.Encode(b.Key, b.Leaf, b.Chain, password)
	if err != nil {
		return nil, "", fmt.Errorf("encode pfx: %w", err)
	}
	return data, password, nil
}
