package natsauth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/natsauth"
)

func TestInitFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	// A directory that already exists with loose permissions is tightened.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := natsauth.Init(dir); err != nil {
		t.Fatal(err)
	}
	checkModes(t, dir, authFiles)
}

func TestInitIdempotent(t *testing.T) {
	dir, a := initAuth(t)
	before := snapshot(t, dir)
	if err := natsauth.Init(dir); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); !sameFiles(before, after) {
		t.Fatal("second Init changed files")
	}
	// A revocation is kept, and the account JWT is not rewritten.
	_, pub, _, err := a.IssueAgent("a1", 3600e9)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(nil, pub); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, dir)
	if err := natsauth.Init(dir); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); !sameFiles(before, after) {
		t.Fatal("Init after a revocation changed files")
	}
	b, err := natsauth.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !b.IsRevoked(pub) {
		t.Fatal("revocation lost")
	}
}

func TestInitConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- natsauth.Init(dir) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := natsauth.Load(dir); err != nil {
		t.Fatal(err)
	}
	checkModes(t, dir, authFiles)
}

// TestInitRepairsStaleJWTs: JWTs from an older layout (account without
// JetStream, admin with other permissions) are re-signed, keeping keys and
// revocations.
func TestInitRepairsStaleJWTs(t *testing.T) {
	dir, a := initAuth(t)
	op := readSeedFile(t, filepath.Join(dir, "operator.nk"))
	acc := readSeedFile(t, filepath.Join(dir, "account.nk"))
	accPub, _ := acc.PublicKey()

	stale := jwt.NewAccountClaims(accPub)
	stale.Name = natsauth.AccountName
	stale.Revoke("UCOLDREVOKEDKEY")
	tok, err := stale.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "account.jwt"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	adminPath := filepath.Join(dir, "admin.creds")
	oldAdmin, adminKP := decodeCreds(t, mustRead(t, adminPath))
	oldAdmin.Pub.Allow = jwt.StringList{">"}
	adminTok, err := oldAdmin.Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := adminKP.Seed()
	creds, err := jwt.FormatUserConfig(adminTok, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adminPath, creds, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := natsauth.Init(dir); err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "account.jwt")))))
	if err != nil {
		t.Fatal(err)
	}
	if ac.Limits.JetStreamLimits.DiskStorage != jwt.NoLimit {
		t.Errorf("account JetStream limits not restored: %+v", ac.Limits.JetStreamLimits)
	}
	if _, ok := ac.Revocations["UCOLDREVOKEDKEY"]; !ok {
		t.Error("revocation dropped while re-signing")
	}
	if len(ac.Exports) != 2 {
		t.Errorf("the hub account's exports not restored: %+v", ac.Exports)
	}
	if ac.SigningKeys.Contains(a.AgentSigningKey()) {
		t.Error("the agents' signing key is a signing key of the hub's account")
	}
	admin, kp := decodeCreds(t, mustRead(t, adminPath))
	if got := admin.Pub.Allow; len(got) != 1 || got[0] != "certfleet.admin.>" {
		t.Errorf("admin publish permissions %v, want [certfleet.admin.>]", got)
	}
	if oldPub, _ := adminKP.PublicKey(); admin.Subject != oldPub {
		t.Error("admin user key replaced; Init must keep keys")
	}
	if pub, _ := kp.PublicKey(); pub != admin.Subject {
		t.Error("admin creds seed does not match its JWT")
	}
	checkModes(t, dir, authFiles)
}

func TestInitRefusesForeignFiles(t *testing.T) {
	cases := []struct {
		name string
		file string
		make func(t *testing.T, dir string) []byte
	}{
		{"account jwt of another account", "account.jwt", func(t *testing.T, dir string) []byte {
			op := readSeedFile(t, filepath.Join(dir, "operator.nk"))
			other, _ := nkeys.CreateAccount()
			pub, _ := other.PublicKey()
			tok, err := jwt.NewAccountClaims(pub).Encode(op)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(tok)
		}},
		{"operator jwt of another operator", "operator.jwt", func(t *testing.T, dir string) []byte {
			other, _ := nkeys.CreateOperator()
			pub, _ := other.PublicKey()
			tok, err := jwt.NewOperatorClaims(pub).Encode(other)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(tok)
		}},
		{"hub creds of another account", "hub.creds", func(t *testing.T, dir string) []byte {
			return mustRead(t, filepath.Join(dir, "system.creds"))
		}},
		{"operator seed of the wrong kind", "operator.nk", func(t *testing.T, dir string) []byte {
			return mustRead(t, filepath.Join(dir, "account.nk"))
		}},
		{"garbage seed", "agents-signing.nk", func(t *testing.T, dir string) []byte { return []byte("SAnotaseed\n") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := initAuth(t)
			if err := os.WriteFile(filepath.Join(dir, tc.file), tc.make(t, dir), 0o600); err != nil {
				t.Fatal(err)
			}
			err := natsauth.Init(dir)
			if err == nil || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("Init = %v, want an error naming %s", err, tc.file)
			}
			_, err = natsauth.Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("Load = %v, want an error naming %s", err, tc.file)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	for _, f := range authFiles {
		if f == "account.nk" || f == "system-account.nk" || f == "agents-account.nk" {
			continue // only Init signs with these; Load never reads them
		}
		t.Run(f, func(t *testing.T) {
			dir, _ := initAuth(t)
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
			_, err := natsauth.Load(dir)
			if err == nil || !strings.Contains(err.Error(), f) {
				t.Fatalf("Load = %v, want an error naming %s", err, f)
			}
		})
	}
}

// TestAccountLayout: agents live in their own account, with no JetStream,
// the scoped signing key and exactly the two imports; the hub's account
// has JetStream, the two token-protected exports and no agent signing key.
func TestAccountLayout(t *testing.T) {
	_, a := initAuth(t)
	ac, err := jwt.DecodeAccountClaims(a.AgentsAccountJWT())
	if err != nil {
		t.Fatal(err)
	}
	scope, ok := ac.SigningKeys.GetScope(a.AgentSigningKey())
	if !ok || scope == nil {
		t.Fatal("agent signing key is not scoped")
	}
	us, ok := scope.(*jwt.UserScope)
	if !ok {
		t.Fatalf("scope %T", scope)
	}
	want := natsauth.AgentTemplate()
	if got := us.Template.Pub.Allow; len(got) != 1 || got[0] != "agent.{{name()}}.up.>" {
		t.Errorf("publish template %v", got)
	}
	if got := us.Template.Sub.Allow; len(got) != 1 || got[0] != "agent.{{name()}}.down.>" {
		t.Errorf("subscribe template %v", got)
	}
	if us.Template.Resp != nil {
		t.Errorf("response permission %+v, want none", us.Template.Resp)
	}
	if us.Template.NatsLimits != want.NatsLimits {
		t.Errorf("limits %+v, want %+v", us.Template.NatsLimits, want.NatsLimits)
	}
	if ac.Limits.JetStreamLimits != (jwt.JetStreamLimits{}) {
		t.Errorf("JetStream enabled on the agents account: %+v", ac.Limits.JetStreamLimits)
	}
	if len(ac.Imports) != 2 {
		t.Fatalf("agents account imports %d subjects, want 2", len(ac.Imports))
	}
	for _, im := range ac.Imports {
		if im.Account != a.AccountPublicKey() || im.Token == "" {
			t.Errorf("import %q from %s, token %v", im.Subject, im.Account, im.Token != "")
		}
		act, err := jwt.DecodeActivationClaims(im.Token)
		if err != nil || act.Issuer != a.AccountPublicKey() || act.Subject != a.AgentsAccountPublicKey() {
			t.Errorf("activation for %q: %+v, %v", im.Subject, act, err)
		}
	}

	hc, err := jwt.DecodeAccountClaims(a.AccountJWT())
	if err != nil {
		t.Fatal(err)
	}
	if hc.Limits.JetStreamLimits.DiskStorage != jwt.NoLimit || hc.Limits.JetStreamLimits.Streams != jwt.NoLimit {
		t.Errorf("JetStream not enabled on the hub account: %+v", hc.Limits.JetStreamLimits)
	}
	if len(hc.SigningKeys) != 0 {
		t.Errorf("hub account has signing keys %v", hc.SigningKeys.Keys())
	}
	subjects := map[string]bool{}
	for _, e := range hc.Exports {
		if !e.TokenReq {
			t.Errorf("export %q is public", e.Subject)
		}
		subjects[string(e.Subject)] = true
	}
	if len(hc.Exports) != 2 || !subjects["agent.*.up.>"] || !subjects["agent.*.down.>"] {
		t.Errorf("hub account exports %v", subjects)
	}
	if a.Legacy() {
		t.Error("a fresh directory has the legacy agent key")
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
