package issuer

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
)

// Files in Config.AccountDir.
const (
	accountKeyFile = "account.key"
	accountRegFile = "account.json"
)

// accountRecord is what account.json holds: the account URI at one CA.
type accountRecord struct {
	// Directory is the directory URL the account was registered at; a
	// registration for another directory is not reused.
	Directory string    `json:"directory"`
	URI       string    `json:"uri"`
	Email     string    `json:"email,omitempty"`
	Created   time.Time `json:"created"`
}

// parseRegistration decodes account.json.
func parseRegistration(data []byte) (*accountRecord, error) {
	var r accountRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", accountRegFile, err)
	}
	if r.Directory == "" || r.URI == "" {
		return nil, fmt.Errorf("parse %s: directory and uri are required", accountRegFile)
	}
	return &r, nil
}

// loadRegistration returns the stored registration, or nil if none.
func loadRegistration(dir string) (*accountRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, accountRegFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read account registration: %w", err)
	}
	return parseRegistration(data)
}

func saveRegistration(dir string, r *accountRecord) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode account registration: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, accountRegFile), append(data, '\n')); err != nil {
		return fmt.Errorf("save account registration: %w", err)
	}
	return nil
}

// ensureAccountDir creates dir (0700) or tightens an existing one.
func ensureAccountDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create account directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict account directory: %w", err)
	}
	return nil
}

// loadOrCreateKey reads the account key, or makes and stores one of kt.
func loadOrCreateKey(dir string, kt certcrypto.KeyType, logger *slog.Logger) (crypto.Signer, error) {
	path := filepath.Join(dir, accountKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := certcrypto.ParsePEMPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse account key %s: %w", path, err)
		}
		if err := restrictFile(path, logger); err != nil {
			return nil, err
		}
		if got, err := certcrypto.GetPrivateKeyType(key); err == nil && got != kt {
			logger.Info("keeping the existing account key; key_type applies to new accounts only",
				"key", path, "key_type", got, "configured", kt)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read account key: %w", err)
	}
	key, err := certcrypto.GeneratePrivateKey(kt)
	if err != nil {
		return nil, fmt.Errorf("generate account key: %w", err)
	}
	if err := writeFileAtomic(path, certcrypto.PEMEncode(key)); err != nil {
		return nil, fmt.Errorf("save account key: %w", err)
	}
	logger.Info("created ACME account key", "key", path, "key_type", kt)
	return key, nil
}

// restrictFile makes a secret file 0600 if it is readable by others.
func restrictFile(path string, logger *slog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	logger.Warn("account key was readable by others; setting mode 0600", "key", path, "mode", fi.Mode().Perm().String())
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes data to path with mode 0600 via a synced
// temporary file and a rename, so a crash leaves the old file or the new.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = d.Sync() // make the rename durable; best effort on odd filesystems
		_ = d.Close()
	}
	return nil
}

// user is lego's view of the account.
type user struct {
	email string
	key   crypto.Signer
	reg   *acme.ExtendedAccount
}

func (u *user) GetEmail() string                       { return u.email }
func (u *user) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *user) GetPrivateKey() crypto.Signer           { return u.key }
