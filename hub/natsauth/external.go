package natsauth

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ServerConfigOptions shape the nats-server configuration fragment that
// ServerConfig returns.
type ServerConfigOptions struct {
	// ResolverDir is where the servers' full account resolver keeps account
	// JWTs (required; the server creates it).
	ResolverDir string
	// TLSCert and TLSKey, when both set, add a tls block for the client port.
	TLSCert, TLSKey string
}

// ServerConfig returns a nats-server configuration fragment, to include
// from a server's config, that runs an operator-mode deployment of a's
// operator: the operator JWT, the system account, a full account resolver
// in o.ResolverDir with the system and CERTFLEET account JWTs preloaded,
// and optionally TLS. It holds no seed. It fails with ErrExternal on an
// external Authority, which has no operator.
//
// The resolver is a full (directory) resolver rather than MEMORY because
// of revocation: an account JWT pushed to
// $SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE (what Revoke does) is written
// to its directory, so it survives a restart — a preload never replaces a
// newer JWT there — and full resolvers share it across a cluster. A memory
// resolver would forget the revocation at the next restart and serve the
// preloaded JWT again.
func (a *Authority) ServerConfig(o ServerConfigOptions) ([]byte, error) {
	if a.External() {
		return nil, fmt.Errorf("nats server config: %w", ErrExternal)
	}
	if o.ResolverDir == "" {
		return nil, errors.New("nats server config: resolver dir is required")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("nats server config: give both the TLS certificate and key, or neither")
	}
	_, opJWT, err := readOperator(filepath.Join(a.dir, operatorJWTFile))
	if err != nil {
		return nil, fmt.Errorf("nats server config: %w", err)
	}
	resolverDir, err := confString(o.ResolverDir)
	if err != nil {
		return nil, fmt.Errorf("nats server config: resolver dir: %w", err)
	}
	a.mu.Lock()
	accJWT, agentsJWT := a.accJWT, a.agentsJWT
	a.mu.Unlock()

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Operator-mode NATS for certfleet, written by `certfleet-hub nats-setup`.")
	w("# Include it from the config of every server of the deployment.")
	w("operator: %q", opJWT)
	w("system_account: %s", a.sysPub)
	w("")
	w("# A full resolver keeps pushed account updates (revocations) on disk and")
	w("# shares them across the cluster; the preload never replaces a newer JWT.")
	w("resolver: {")
	w("  type: full")
	w("  dir: %s", resolverDir)
	w("  allow_delete: false")
	w("  interval: \"2m\"")
	w("}")
	w("resolver_preload: {")
	w("  # %s", SystemAccountName)
	w("  %s: %q", a.sysPub, a.sysJWT)
	w("  # %s", AccountName)
	w("  %s: %q", a.accPub, accJWT)
	w("  # %s", AgentsAccountName)
	w("  %s: %q", a.agentsPub, agentsJWT)
	w("}")
	if o.TLSCert != "" {
		cert, err := confString(o.TLSCert)
		if err != nil {
			return nil, fmt.Errorf("nats server config: tls certificate: %w", err)
		}
		key, err := confString(o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("nats server config: tls key: %w", err)
		}
		w("")
		w("# Agents connect with tls:// URLs and pin the CA of this certificate.")
		w("tls {")
		w("  cert_file: %s", cert)
		w("  key_file: %s", key)
		w("}")
	}
	return []byte(b.String()), nil
}

// confString quotes s for a nats-server config file. The format's escapes
// differ from Go's, so only strings that need no escape but \ and " pass.
func confString(s string) (string, error) {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%q: control characters cannot be written to a server config", s)
		}
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`, nil
}

// ExternalFiles are the files ExportExternal writes for a hub's
// [nats.external] section.
type ExternalFiles struct {
	// Credentials is the hub user's creds file (nats.external.credentials).
	Credentials string
	// SigningKey holds the seed of the agents account's scoped signing key
	// (nats.external.signing_key).
	SigningKey string
	// AdminCreds is the admin user's creds file, for the admin CLI.
	AdminCreds string
	// Account is the agents account's public key (nats.external.account):
	// a value, not a file.
	Account string
}

// ExportExternal writes into dir (made 0700) what a hub needs to use a's
// deployment as an external NATS, as 0600 files: the hub and admin creds
// and the seed of the scoped agent signing key. The operator and account
// identity keys are not copied: they stay with whoever runs the NATS
// servers. Running it again rewrites the copies from a's current material.
// It fails with ErrExternal on an external Authority.
func (a *Authority) ExportExternal(dir string) (ExternalFiles, error) {
	if a.External() {
		return ExternalFiles{}, fmt.Errorf("export external nats files: %w", ErrExternal)
	}
	if err := ensureDir(dir); err != nil {
		return ExternalFiles{}, fmt.Errorf("export external nats files: %w", err)
	}
	out := ExternalFiles{
		Credentials: filepath.Join(dir, hubCredsFile),
		SigningKey:  filepath.Join(dir, agentSignerFile),
		AdminCreds:  filepath.Join(dir, adminCredsFile),
		Account:     a.agentsPub,
	}
	for _, c := range []struct{ from, to string }{
		{a.hubCreds, out.Credentials}, {a.adminCreds, out.AdminCreds},
	} {
		if err := copySecret(c.from, c.to); err != nil {
			return ExternalFiles{}, fmt.Errorf("export external nats files: %w", err)
		}
	}
	seed, err := a.signer.Seed()
	if err != nil {
		return ExternalFiles{}, fmt.Errorf("export external nats files: agent signing key: %w", err)
	}
	line := append(append([]byte(nil), seed...), '\n')
	defer wipe(line)
	if err := replaceFile(out.SigningKey, line); err != nil {
		return ExternalFiles{}, fmt.Errorf("export external nats files: %w", err)
	}
	return out, nil
}

// copySecret copies the file from to the path to, 0600, atomically.
func copySecret(from, to string) error {
	b, err := readFile(from)
	if err != nil {
		return err
	}
	defer wipe(b)
	return replaceFile(to, b)
}
