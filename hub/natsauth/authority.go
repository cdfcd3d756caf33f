package natsauth

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// ErrExternal is returned by operations that need the operator key, which
// an Authority for an external NATS deployment does not have.
var ErrExternal = errors.New("external NATS: the hub does not hold the operator key")

// ErrRevoked is returned when asked to renew a JWT for a revoked user key.
var ErrRevoked = errors.New("user key revoked")

// Authority issues and revokes agent credentials. Its methods are safe for
// concurrent use.
type Authority struct {
	// signer is the agents account's scoped signing key.
	signer nkeys.KeyPair
	// accPub is the hub's account, agentsPub the agents' account.
	accPub, agentsPub string
	// legacyPub is layout 1's agent signing key in the hub's account, ""
	// when there is none (see LegacyAgentTemplate).
	legacyPub string

	hubCreds, adminCreds, systemCreds string

	// Embedded (operator) mode only; op is nil for an external deployment.
	dir      string
	op       nkeys.KeyPair
	opClaims *jwt.OperatorClaims
	sysPub   string
	sysJWT   string

	mu sync.Mutex
	// accJWT and accClaims are the hub's account as last signed, agentsJWT
	// and agentsClaims the agents' account.
	accJWT       string
	accClaims    *jwt.AccountClaims
	agentsJWT    string
	agentsClaims *jwt.AccountClaims
	// resolver is the server's memory resolver, once ConfigureServer ran.
	resolver *server.MemAccResolver
	// revoked records revocations an external Authority cannot push, so
	// that at least no renewed JWT is signed for them.
	revoked map[string]time.Time
}

// Load reads the material Init wrote to dir and checks that it fits
// together. It writes nothing.
func Load(dir string) (*Authority, error) {
	a, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("load nats auth from %s: %w", dir, err)
	}
	return a, nil
}

func load(dir string) (*Authority, error) {
	op, err := readSeed(filepath.Join(dir, operatorSeedFile), nkeys.PrefixByteOperator)
	if err != nil {
		return nil, err
	}
	a := &Authority{dir: dir, op: op}
	opPub := pub(op)
	a.opClaims, _, err = readOperator(filepath.Join(dir, operatorJWTFile))
	if err != nil {
		return nil, err
	}
	if a.opClaims.Subject != opPub || a.opClaims.Issuer != opPub {
		return nil, fmt.Errorf("%s: operator %s, but the operator key is %s", operatorJWTFile, a.opClaims.Subject, opPub)
	}
	a.sysPub = a.opClaims.SystemAccount
	sysClaims, sysJWT, err := readAccount(filepath.Join(dir, systemJWTFile), opPub)
	if err != nil {
		return nil, err
	}
	if sysClaims.Subject != a.sysPub {
		return nil, fmt.Errorf("%s: account %s, but the operator names system account %s", systemJWTFile, sysClaims.Subject, a.sysPub)
	}
	a.sysJWT = sysJWT
	a.accClaims, a.accJWT, err = readAccount(filepath.Join(dir, accountJWTFile), opPub)
	if err != nil {
		return nil, err
	}
	a.accPub = a.accClaims.Subject
	a.agentsClaims, a.agentsJWT, err = readAccount(filepath.Join(dir, agentsJWTFile), opPub)
	if err != nil {
		return nil, fmt.Errorf("%w (a hub data directory of an older certfleet: run `certfleet-hub init` to upgrade it)", err)
	}
	a.agentsPub = a.agentsClaims.Subject
	if a.agentsPub == a.accPub {
		return nil, fmt.Errorf("%s: the agents account is the hub's own account %s", agentsJWTFile, a.accPub)
	}
	a.signer, err = readSeed(filepath.Join(dir, agentSignerFile), nkeys.PrefixByteAccount)
	if err != nil {
		return nil, err
	}
	scope, ok := a.agentsClaims.SigningKeys.GetScope(pub(a.signer))
	if !ok || scope == nil {
		return nil, fmt.Errorf("%s: the agent signing key %s is not a scoped signing key of the agents account", agentsJWTFile, pub(a.signer))
	}
	if err := checkImports(a.agentsClaims, a.accPub); err != nil {
		return nil, fmt.Errorf("%s: %w", agentsJWTFile, err)
	}
	for k := range a.accClaims.SigningKeys {
		if sc, ok := a.accClaims.SigningKeys.GetScope(k); ok && sc != nil {
			if us, ok := sc.(*jwt.UserScope); ok && us.Role == LegacyAgentRole {
				a.legacyPub = k
			} else {
				// A scoped key of the hub's account that is not the legacy
				// one would put users next to the hub's state.
				return nil, fmt.Errorf("%s: the hub's account has signing key %s; only the legacy agent key may be there (run `certfleet-hub init`)", accountJWTFile, k)
			}
		}
	}
	a.hubCreds = filepath.Join(dir, hubCredsFile)
	a.adminCreds = filepath.Join(dir, adminCredsFile)
	a.systemCreds = filepath.Join(dir, systemCredsFile)
	for _, c := range []struct{ path, issuer string }{
		{a.hubCreds, a.accPub}, {a.adminCreds, a.accPub}, {a.systemCreds, a.sysPub},
	} {
		if err := checkCreds(c.path, c.issuer); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// LoadExternal builds an Authority for an existing operator-mode NATS
// deployment that the hub does not run. signingKeySeedPath holds the seed
// of a scoped signing key of the agents' account agentsPub whose template
// is AgentTemplate (a bare seed or an nsc .nk file); hubCreds is the path
// of the hub user's creds file, in the hub's own account. The two accounts
// must differ: agents must never share the account that holds the hub's
// state (see the package documentation).
//
// Such an Authority issues and renews agent JWTs, but cannot revoke them
// (see the package documentation) and cannot configure a server.
func LoadExternal(signingKeySeedPath, agentsPub, hubCreds string) (*Authority, error) {
	if !nkeys.IsValidPublicAccountKey(agentsPub) {
		return nil, fmt.Errorf("load external nats auth: account %q is not an account public key", agentsPub)
	}
	signer, err := readSeed(signingKeySeedPath, nkeys.PrefixByteAccount)
	if err != nil {
		return nil, fmt.Errorf("load external nats auth: signing key: %w", err)
	}
	if pub(signer) == agentsPub {
		signer.Wipe()
		return nil, fmt.Errorf("load external nats auth: %s is the account's identity key; give the seed of its scoped signing key for agents", signingKeySeedPath)
	}
	hubAcc, err := credsAccount(hubCreds)
	if err != nil {
		signer.Wipe()
		return nil, fmt.Errorf("load external nats auth: hub creds: %w", err)
	}
	if hubAcc == agentsPub {
		signer.Wipe()
		return nil, fmt.Errorf("load external nats auth: the hub's creds %s are a user of the agents' account %s: "+
			"agents need an account of their own that imports only the hub's agent subjects "+
			"(re-run `certfleet-hub nats-setup` with the same --out to upgrade the deployment)", hubCreds, agentsPub)
	}
	return &Authority{
		signer:    signer,
		accPub:    hubAcc,
		agentsPub: agentsPub,
		hubCreds:  hubCreds,
		revoked:   map[string]time.Time{},
	}, nil
}

// checkImports checks that the agents' account imports the hub's two
// exports from hubPub, and nothing else.
func checkImports(ac *jwt.AccountClaims, hubPub string) error {
	want := map[string]jwt.ExportType{exportUp: jwt.Service, exportDown: jwt.Stream}
	for _, im := range ac.Imports {
		typ, ok := want[string(im.Subject)]
		if !ok || im.Account != hubPub || im.Type != typ {
			return fmt.Errorf("unexpected import %s %q from %s", im.Type, im.Subject, im.Account)
		}
		delete(want, string(im.Subject))
	}
	for subj := range want {
		return fmt.Errorf("missing import %q from the hub's account %s", subj, hubPub)
	}
	return nil
}

// credsAccount returns the account of the user in the creds file at path.
func credsAccount(path string) (string, error) {
	b, err := readFile(path)
	if err != nil {
		return "", err
	}
	defer wipe(b)
	uc, ukp, err := parseCreds(b)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	ukp.Wipe()
	if uc.IssuerAccount != "" {
		return uc.IssuerAccount, checkCreds(path, uc.IssuerAccount)
	}
	return uc.Issuer, checkCreds(path, uc.Issuer)
}

// checkCreds checks that the creds file at path parses and is for a user
// of account accPub (signed by it or by one of its signing keys).
func checkCreds(path, accPub string) error {
	b, err := readFile(path)
	if err != nil {
		return err
	}
	defer wipe(b)
	uc, ukp, err := parseCreds(b)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	ukp.Wipe()
	account := uc.Issuer
	if uc.IssuerAccount != "" {
		account = uc.IssuerAccount
	}
	if account != accPub {
		return fmt.Errorf("%s: a user of account %s, want %s", path, account, accPub)
	}
	if uc.Expires != 0 && time.Unix(uc.Expires, 0).Before(time.Now()) {
		return fmt.Errorf("%s: expired at %s", path, time.Unix(uc.Expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

func readOperator(path string) (*jwt.OperatorClaims, string, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, "", err
	}
	tok := strings.TrimSpace(string(b))
	oc, err := jwt.DecodeOperatorClaims(tok)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", path, err)
	}
	return oc, tok, nil
}

// readAccount reads an account JWT and checks that opPub signed it.
func readAccount(path, opPub string) (*jwt.AccountClaims, string, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, "", err
	}
	tok := strings.TrimSpace(string(b))
	ac, err := jwt.DecodeAccountClaims(tok)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", path, err)
	}
	if ac.Issuer != opPub {
		return nil, "", fmt.Errorf("%s: signed by %s, want the operator %s", path, ac.Issuer, opPub)
	}
	return ac, tok, nil
}

// External reports whether a is for an external NATS deployment (built by
// LoadExternal): no server configuration, no live revocation.
func (a *Authority) External() bool { return a.op == nil }

// HubCreds returns the path of the hub user's creds file (full access to
// the account, JetStream included).
func (a *Authority) HubCreds() string { return a.hubCreds }

// AdminCreds returns the path of the admin user's creds file: publish on
// certfleet.admin.>, replies on _INBOX.>. Empty for an external deployment.
func (a *Authority) AdminCreds() string { return a.adminCreds }

// SystemCreds returns the path of the system-account user's creds file,
// used to push account updates (Revoke). Empty for an external deployment.
func (a *Authority) SystemCreds() string { return a.systemCreds }

// AccountPublicKey returns the hub's account's public key.
func (a *Authority) AccountPublicKey() string { return a.accPub }

// AgentsAccountPublicKey returns the agents' account's public key: the
// account every agent JWT is issued in.
func (a *Authority) AgentsAccountPublicKey() string { return a.agentsPub }

// AgentSigningKey returns the public key of the scoped signing key that
// signs agent JWTs.
func (a *Authority) AgentSigningKey() string { return pub(a.signer) }

// Legacy reports whether agents of layout 1 (signed inside the hub's
// account) may still connect to take new credentials.
func (a *Authority) Legacy() bool { return a.legacyPub != "" }

// AccountJWT returns the hub's account JWT as last signed. Empty for an
// external deployment.
func (a *Authority) AccountJWT() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accJWT
}

// AgentsAccountJWT returns the agents' account JWT as last signed. Empty
// for an external deployment.
func (a *Authority) AgentsAccountJWT() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.agentsJWT
}
