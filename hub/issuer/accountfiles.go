package issuer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-acme/lego/v5/certcrypto"
)

// ReadAccountFiles returns the account key (PEM) and registration that
// an issuer keeps in dir, or nil, nil when dir holds no complete account.
// Hubs that share one NATS deployment copy them through the store, so
// they all order as one ACME account.
func ReadAccountFiles(dir string) (key, registration []byte, err error) {
	key, err = os.ReadFile(filepath.Join(dir, accountKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read account key: %w", err)
	}
	registration, err = os.ReadFile(filepath.Join(dir, accountRegFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read account registration: %w", err)
	}
	return key, registration, nil
}

// WriteAccountFiles stores an account key and registration in dir (0700,
// files 0600, atomically), as ReadAccountFiles reads them. Both are
// checked first: a bad copy never replaces a working account.
func WriteAccountFiles(dir string, key, registration []byte) error {
	if _, err := parseRegistration(registration); err != nil {
		return err
	}
	if _, err := certcrypto.ParsePEMPrivateKey(key); err != nil {
		return fmt.Errorf("account key: %w", err)
	}
	if err := ensureAccountDir(dir); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, accountKeyFile), key); err != nil {
		return fmt.Errorf("write account key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, accountRegFile), registration); err != nil {
		return fmt.Errorf("write account registration: %w", err)
	}
	return nil
}
