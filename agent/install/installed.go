package install

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/certfleet/certfleet/agent/keys"
)

// ErrNotInstalled is returned by ReadInstalled when the cert or key file
// does not exist.
var ErrNotInstalled = errors.New("no certificate installed")

// Installed is what a block's files hold now.
type Installed struct {
	Leaf    *x509.Certificate
	KeyType string
}

// ReadInstalled reads the block's cert and key files and checks that they
// belong together. A missing file wraps ErrNotInstalled.
func ReadInstalled(t Target) (*Installed, error) {
	certPEM, err := os.ReadFile(t.Cert)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", t.Cert, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(t.Key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", t.Key, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	certs, err := ParseChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", t.Cert, err)
	}
	key, err := keys.Parse(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Key, err)
	}
	if !keys.SamePublic(key.Public(), certs[0].PublicKey) {
		return nil, fmt.Errorf("%s does not hold the key of %s", t.Key, t.Cert)
	}
	return &Installed{Leaf: certs[0], KeyType: keys.TypeOf(key.Public())}, nil
}
