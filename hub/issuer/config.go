package issuer

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/certfleet/certfleet/internal/keytype"
)

// Config configures an Issuer for one CA.
type Config struct {
	// Name identifies the CA in logs and errors, e.g. "letsencrypt".
	Name string
	// DirectoryURL is the CA's ACME directory (HTTPS).
	DirectoryURL string
	// Email is the account contact; optional.
	Email string
	// EABKeyID and EABHMAC (base64url) bind a new account to an external
	// account, for CAs that require it. Used only when registering.
	EABKeyID, EABHMAC string
	// CABundle is a path to extra PEM roots trusted for the directory's
	// HTTPS, on top of the system roots (test CAs).
	CABundle string
	// AccountDir holds the account key (0600) and registration (dir 0700).
	AccountDir string
	// KeyType of a new account key: ec256 (default), ec384, rsa2048,
	// rsa3072, rsa4096. An existing key is always kept.
	KeyType string
	// Logger receives the issuer's log and lego's (demoted one level);
	// nil means slog.Default().
	Logger *slog.Logger
}

// keyTypes maps config names to lego's key types.
var keyTypes = map[string]certcrypto.KeyType{
	keytype.EC256:   certcrypto.EC256,
	keytype.EC384:   certcrypto.EC384,
	keytype.RSA2048: certcrypto.RSA2048,
	keytype.RSA3072: certcrypto.RSA3072,
	keytype.RSA4096: certcrypto.RSA4096,
}

// Validate checks the configuration. Errors name the field as the hub's
// config file spells it.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("ca.name: required")
	}
	p := fmt.Sprintf("ca %q: ", c.Name)
	u, err := url.Parse(c.DirectoryURL)
	switch {
	case c.DirectoryURL == "":
		return fmt.Errorf("%sdirectory: required", p)
	case err != nil:
		return fmt.Errorf("%sdirectory: %w", p, err)
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%sdirectory %q: want an https:// URL (ACME requires HTTPS)", p, c.DirectoryURL)
	}
	if c.AccountDir == "" {
		return fmt.Errorf("%saccount directory: required", p)
	}
	if _, ok := keyTypes[strings.ToLower(c.KeyType)]; c.KeyType != "" && !ok {
		return fmt.Errorf("%skey_type %q: want ec256, ec384, rsa2048, rsa3072 or rsa4096", p, c.KeyType)
	}
	if (c.EABKeyID == "") != (c.EABHMAC == "") {
		return fmt.Errorf("%seab_kid and eab_hmac: set both or neither", p)
	}
	if c.EABHMAC != "" {
		if _, err := decodeHMAC(c.EABHMAC); err != nil {
			return fmt.Errorf("%seab_hmac: not base64url: %w", p, err)
		}
	}
	if strings.ContainsAny(c.Email, " \t\r\n<>") || (c.Email != "" && !strings.Contains(c.Email, "@")) {
		return fmt.Errorf("%semail %q: not a mail address", p, c.Email)
	}
	return nil
}

// keyType returns the lego key type for a new account key.
func (c Config) keyType() certcrypto.KeyType {
	if kt, ok := keyTypes[strings.ToLower(c.KeyType)]; ok {
		return kt
	}
	return certcrypto.EC256
}

// decodeHMAC accepts base64url with or without padding, as lego does.
func decodeHMAC(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}
