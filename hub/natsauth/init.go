package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/datadir"
)

// Files Init writes into its directory: the hub data directory's layout
// (package datadir) names them.
const (
	operatorSeedFile = datadir.OperatorSeed
	operatorJWTFile  = datadir.OperatorJWT
	systemSeedFile   = datadir.SystemSeed
	systemJWTFile    = datadir.SystemJWT
	accountSeedFile  = datadir.AccountSeed
	accountJWTFile   = datadir.AccountJWT
	agentsSeedFile   = datadir.AgentsSeed
	agentsJWTFile    = datadir.AgentsJWT
	agentSignerFile  = datadir.AgentsSigner
	// legacySignerFile is the agents' signing key of layout 1, when agents
	// lived in the hub's account. Init never creates it; while it exists,
	// agents it signed may connect to take new credentials (see
	// LegacyAgentTemplate). Delete it and run Init to shut them out.
	legacySignerFile = datadir.LegacyAgentSigner
	hubCredsFile     = datadir.HubCreds
	adminCredsFile   = datadir.AdminCreds
	systemCredsFile  = datadir.SystemCreds
)

// Init creates the operator-mode material in dir: the operator, the system
// account, the hub's CERTFLEET account (JetStream, hub and admin users), the
// CERTFLEET_AGENTS account with its scoped signing key for agents and its
// imports of the hub's two exports, and credentials for the hub, admin and
// system users. Files are 0600 in a 0700 directory.
//
// Init is idempotent and never replaces a key. Run again, it keeps every
// key and JWT that is still right and re-signs only JWTs whose content
// differs from what this version wants (for example a changed agent
// template), carrying the accounts' revocations over. Run on a directory
// of layout 1 (agents inside the hub's account), it adds the agents'
// account and keeps the old agents' signing key with the legacy template.
// A file that belongs to another key is an error naming the file; Init
// does not guess.
func Init(dir string) error {
	if err := ensureDir(dir); err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	var keys []nkeys.KeyPair
	defer func() {
		for _, kp := range keys {
			kp.Wipe()
		}
	}()
	seed := func(file string, kind nkeys.PrefixByte) (nkeys.KeyPair, error) {
		kp, err := ensureSeed(filepath.Join(dir, file), kind)
		if err != nil {
			return nil, fmt.Errorf("init nats auth: %w", err)
		}
		keys = append(keys, kp)
		return kp, nil
	}
	op, err := seed(operatorSeedFile, nkeys.PrefixByteOperator)
	if err != nil {
		return err
	}
	sys, err := seed(systemSeedFile, nkeys.PrefixByteAccount)
	if err != nil {
		return err
	}
	acc, err := seed(accountSeedFile, nkeys.PrefixByteAccount)
	if err != nil {
		return err
	}
	agents, err := seed(agentsSeedFile, nkeys.PrefixByteAccount)
	if err != nil {
		return err
	}
	signer, err := seed(agentSignerFile, nkeys.PrefixByteAccount)
	if err != nil {
		return err
	}
	legacyPub, err := legacySigner(dir)
	if err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	opPub, sysPub, accPub, agentsPub := pub(op), pub(sys), pub(acc), pub(agents)

	if err := ensureOperatorJWT(filepath.Join(dir, operatorJWTFile), op, operatorClaims(opPub, sysPub)); err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	if err := ensureAccountJWT(filepath.Join(dir, systemJWTFile), op, systemAccountClaims(sysPub)); err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	if err := ensureAccountJWT(filepath.Join(dir, accountJWTFile), op, hubAccountClaims(accPub, legacyPub)); err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	want, err := agentsAccountWant(filepath.Join(dir, agentsJWTFile), acc, agentsPub, pub(signer))
	if err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	if err := ensureAccountJWT(filepath.Join(dir, agentsJWTFile), op, want); err != nil {
		return fmt.Errorf("init nats auth: %w", err)
	}
	users := []struct {
		file   string
		name   string
		issuer nkeys.KeyPair
		perms  jwt.UserPermissionLimits
	}{
		{hubCredsFile, "hub", acc, hubPermissions()},
		{adminCredsFile, "admin", acc, adminPermissions()},
		{systemCredsFile, "system", sys, hubPermissions()},
	}
	for _, u := range users {
		if err := ensureCreds(filepath.Join(dir, u.file), u.issuer, u.name, u.perms); err != nil {
			return fmt.Errorf("init nats auth: %w", err)
		}
	}
	return nil
}

// legacySigner returns the public key of layout 1's agent signing key, or
// "" when dir has none.
func legacySigner(dir string) (string, error) {
	kp, err := readSeed(filepath.Join(dir, legacySignerFile), nkeys.PrefixByteAccount)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	return pub(kp), nil
}

// agentsAccountWant builds the agents account's claims, with activation
// tokens signed by the hub's account key (reused from the JWT at path when
// still valid).
func agentsAccountWant(path string, hubKey nkeys.KeyPair, agentsPub, signerPub string) (*jwt.AccountClaims, error) {
	var have *jwt.AccountClaims
	if b, err := readFile(path); err == nil {
		have, _ = jwt.DecodeAccountClaims(strings.TrimSpace(string(b)))
	}
	up, err := activationToken(hubKey, have, agentsPub, exportUp, jwt.Service)
	if err != nil {
		return nil, err
	}
	down, err := activationToken(hubKey, have, agentsPub, exportDown, jwt.Stream)
	if err != nil {
		return nil, err
	}
	return agentsAccountClaims(agentsPub, signerPub, pub(hubKey), up, down), nil
}

// pub returns a key pair's public key; the key pairs here come from seeds
// that were just parsed, so it cannot fail.
func pub(kp nkeys.KeyPair) string {
	p, err := kp.PublicKey()
	if err != nil {
		panic(fmt.Sprintf("nkey public key: %v", err))
	}
	return p
}

// ensureSeed loads the seed at path, or creates one of the given kind.
func ensureSeed(path string, kind nkeys.PrefixByte) (nkeys.KeyPair, error) {
	kp, err := readSeed(path, kind)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kp, err
	}
	kp, err = nkeys.CreatePair(kind)
	if err != nil {
		return nil, fmt.Errorf("create %s key: %w", kind, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("create %s key: %w", kind, err)
	}
	line := append(append([]byte(nil), seed...), '\n')
	created, err := createFile(path, line)
	wipe(line)
	if err != nil {
		return nil, err
	}
	if !created {
		// Someone else created it meanwhile: theirs wins.
		kp.Wipe()
		return readSeed(path, kind)
	}
	return kp, nil
}

// readSeed reads an nkey seed of the given kind from path (a bare seed or
// an nsc-style decorated file).
func readSeed(path string, kind nkeys.PrefixByte) (nkeys.KeyPair, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	parsed, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	kp, err := ownKey(parsed)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	got, _, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if got != kind {
		kp.Wipe()
		return nil, fmt.Errorf("parse %s: a %s seed, want %s", path, got, kind)
	}
	return kp, nil
}

// ownKey returns a key pair with its own copy of kp's seed. nkeys keeps
// the slice it was parsed from (and Seed returns it), so a key parsed from
// a buffer that is wiped afterwards must be copied out first.
func ownKey(kp nkeys.KeyPair) (nkeys.KeyPair, error) {
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	return nkeys.FromSeed(append([]byte(nil), seed...))
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}

func ensureOperatorJWT(path string, op nkeys.KeyPair, want *jwt.OperatorClaims) error {
	b, err := readFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		tok, err := want.Encode(op)
		if err != nil {
			return fmt.Errorf("sign operator: %w", err)
		}
		_, err = createFile(path, []byte(tok+"\n"))
		return err
	case err != nil:
		return err
	}
	have, err := jwt.DecodeOperatorClaims(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if have.Subject != want.Subject {
		return fmt.Errorf("%s: operator %s, but the operator key is %s", path, have.Subject, want.Subject)
	}
	if have.Name == want.Name && have.SystemAccount == want.SystemAccount && have.Issuer == want.Subject {
		return nil
	}
	tok, err := want.Encode(op)
	if err != nil {
		return fmt.Errorf("sign operator: %w", err)
	}
	return replaceFile(path, []byte(tok+"\n"))
}

// ensureAccountJWT writes want signed by op unless path already holds an
// equivalent JWT. Revocations in the existing JWT are kept.
func ensureAccountJWT(path string, op nkeys.KeyPair, want *jwt.AccountClaims) error {
	b, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		tok, err := want.Encode(op)
		if err != nil {
			return fmt.Errorf("sign account %s: %w", want.Name, err)
		}
		_, err = createFile(path, []byte(tok+"\n"))
		return err
	}
	if err != nil {
		return err
	}
	have, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if have.Subject != want.Subject {
		return fmt.Errorf("%s: account %s, but the account key is %s", path, have.Subject, want.Subject)
	}
	for k, ts := range have.Revocations {
		want.RevokeAt(k, unix(ts))
	}
	tok, err := want.Encode(op)
	if err != nil {
		return fmt.Errorf("sign account %s: %w", want.Name, err)
	}
	signed, err := jwt.DecodeAccountClaims(tok)
	if err != nil {
		return fmt.Errorf("sign account %s: %w", want.Name, err)
	}
	same, err := sameAccount(have, signed)
	if err != nil || same {
		return err
	}
	return replaceFile(path, []byte(tok+"\n"))
}

// ensureCreds writes a creds file for a user named name issued by issuer,
// keeping the user's key (and the file as it is if its JWT is still right).
func ensureCreds(path string, issuer nkeys.KeyPair, name string, perms jwt.UserPermissionLimits) error {
	b, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		ukp, err := nkeys.CreateUser()
		if err != nil {
			return fmt.Errorf("create %s user key: %w", name, err)
		}
		defer ukp.Wipe()
		creds, err := userCreds(ukp, issuer, name, perms)
		if err != nil {
			return err
		}
		defer wipe(creds)
		_, err = createFile(path, creds)
		return err
	}
	if err != nil {
		return err
	}
	defer wipe(b)
	uc, ukp, err := parseCreds(b)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	defer ukp.Wipe()
	if uc.Issuer != pub(issuer) {
		return fmt.Errorf("%s: issued by %s, want %s", path, uc.Issuer, pub(issuer))
	}
	same, err := samePermissions(uc.UserPermissionLimits, perms)
	if err != nil {
		return err
	}
	if same && uc.Name == name && uc.Expires == 0 {
		return nil
	}
	creds, err := userCreds(ukp, issuer, name, perms)
	if err != nil {
		return err
	}
	defer wipe(creds)
	return replaceFile(path, creds)
}

// userCreds signs a non-expiring user JWT for ukp and formats a creds file.
func userCreds(ukp, issuer nkeys.KeyPair, name string, perms jwt.UserPermissionLimits) ([]byte, error) {
	uc := jwt.NewUserClaims(pub(ukp))
	uc.Name = name
	uc.UserPermissionLimits = perms
	tok, err := uc.Encode(issuer)
	if err != nil {
		return nil, fmt.Errorf("sign user %s: %w", name, err)
	}
	// Seed returns the key's own slice: the caller wipes ukp when done.
	seed, err := ukp.Seed()
	if err != nil {
		return nil, fmt.Errorf("user %s seed: %w", name, err)
	}
	creds, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		return nil, fmt.Errorf("format %s creds: %w", name, err)
	}
	return creds, nil
}

// parseCreds decodes a creds file and checks that its seed belongs to its JWT.
func parseCreds(b []byte) (*jwt.UserClaims, nkeys.KeyPair, error) {
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return nil, nil, err
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		return nil, nil, err
	}
	// The caller may wipe b while still using the key.
	ukp, err := ownKey(parsed)
	if err != nil {
		return nil, nil, err
	}
	if p := pub(ukp); p != uc.Subject {
		ukp.Wipe()
		return nil, nil, fmt.Errorf("seed is for %s, the JWT for %s", p, uc.Subject)
	}
	return uc, ukp, nil
}

// Upgrade brings a directory that Init wrote, perhaps by an older
// certfleet, to this version's layout (Init, which keeps every key). A
// directory without an operator key is left alone: it was never
// initialised, and Load says so.
func Upgrade(dir string) error {
	ok, err := exists(filepath.Join(dir, operatorSeedFile))
	if err != nil || !ok {
		return err
	}
	return Init(dir)
}
