package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/shared"
)

// layout1Dir holds what certfleet at baedd1d (agents inside the hub's NATS
// account) left behind: the hub's data directory after `init`, `domain
// add legacy1.example.test` and `agent add legacy1`, and that agent's
// enrollment file. See testdata/layout1-baedd1d/README.md.
const layout1Dir = "testdata/layout1-baedd1d"

// legacyEnrollment is the old enrollment of legacy1 with its JWT signed
// again, now, by the old hub's agent signing key exactly as that hub did
// (the stored one has long expired), pointing at url.
func legacyEnrollment(t *testing.T, dataDir, url string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout1Dir, "legacy1.enroll.json"))
	if err != nil {
		t.Fatal(err)
	}
	enr, err := shared.ParseEnrollment(b)
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.ParseDecoratedNKey([]byte(enr.Creds))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	signerSeed, err := os.ReadFile(filepath.Join(dataDir, "nats", "agent-signing.nk"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(signerSeed))))
	if err != nil {
		t.Fatal(err)
	}
	accJWT, err := os.ReadFile(filepath.Join(dataDir, "nats", "account.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(accJWT)))
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = enr.AgentID
	uc.IssuerAccount = acc.Subject
	// A scoped key signs users without permissions or limits of their own.
	uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	uc.Expires = time.Now().Add(time.Hour).Unix()
	tok, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	enr.Creds, enr.URLs = string(creds), []string{url}
	out, err := json.Marshal(enr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpgradeFromLayout1: a hub of the old layout keeps working after the
// upgrade, without `init`: its agents, domains and keys are kept, the
// agents' account is added, and an agent still holding old credentials is
// moved to the agents' account at its first hello and gets a certificate.
// Old credentials can then do nothing but say hello and take new ones,
// and removing the agent revokes both.
func TestUpgradeFromLayout1(t *testing.T) {
	t.Parallel()
	env := newStoppedEnv(t, "")
	c := ctx(t)
	if err := env.UseDataDir(filepath.Join(layout1Dir, "data")); err != nil {
		t.Fatal(err)
	}
	if err := env.StartHub(c); err != nil {
		t.Fatalf("the upgraded hub did not start on the old data dir: %v", err)
	}
	out, err := env.Hub(c, "agent", "list")
	if err != nil || !strings.Contains(out, "legacy1") {
		t.Fatalf("agent list after upgrade: %v\n%s", err, out)
	}
	// Idempotent for a registered domain: the same record, created at the
	// stand-in public DNS.
	if _, err := env.AddDomain(c, "legacy1.example.test"); err != nil {
		t.Fatal(err)
	}
	enrollPath := filepath.Join(t.TempDir(), "legacy1.enroll.json")
	if err := os.WriteFile(enrollPath, legacyEnrollment(t, env.HubDataDir, env.HubRun().NATSURL), 0o600); err != nil {
		t.Fatal(err)
	}
	legacyCreds := []byte(mustEnrollment(t, enrollPath).Creds)

	// With old credentials, nothing but hello and ack.
	rec := &errRecorder{}
	old, err := dialHub(t, env, credsOption(t, legacyCreds), nats.ErrorHandler(rec.handler))
	if err != nil {
		t.Fatalf("old credentials refused right after the upgrade: %v", err)
	}
	if err := old.Publish(shared.Up("legacy1", shared.VerbCertReq), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) {
		return rec.has(`permissions violation for publish to "agent.legacy1.up.certreq"`), nil
	}); err != nil {
		t.Fatal("old credentials may still publish certificate requests")
	}
	old.Close()

	a, err := env.EnrollAgent(c, "legacy1", enrollPath, fleet.CertSpec{Name: "web", Names: []string{"legacy1.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if _, err := a.AwaitCert(c, "web", []string{"legacy1.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	credsPath := filepath.Join(a.Dir, "state", "agent.creds")
	uc := credsClaims(t, credsPath)
	b, err := os.ReadFile(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	agentsJWT, err := os.ReadFile(filepath.Join(datadir.Dir(env.HubDataDir).Auth(), datadir.AgentsJWT))
	if err != nil {
		t.Fatalf("the upgrade did not add the agents' account: %v", err)
	}
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(agentsJWT)))
	if err != nil {
		t.Fatal(err)
	}
	if uc.IssuerAccount != ac.Subject {
		t.Fatalf("the agent still holds credentials of account %s, not the agents' %s", uc.IssuerAccount, ac.Subject)
	}

	if _, err := env.Hub(c, "agent", "remove", "legacy1"); err != nil {
		t.Fatal(err)
	}
	for name, creds := range map[string][]byte{"old": legacyCreds, "new": b} {
		if nc, err := dialHub(t, env, credsOption(t, creds)); err == nil {
			nc.Close()
			t.Fatalf("%s credentials still connect after agent remove", name)
		} else if !isAuthViolation(err) {
			t.Fatalf("%s credentials after remove: %v", name, err)
		}
	}
}

func mustEnrollment(t *testing.T, path string) *shared.Enrollment {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := shared.ParseEnrollment(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// credsOption authenticates with the JWT and seed of a creds file's text.
func credsOption(t *testing.T, creds []byte) nats.Option {
	t.Helper()
	tok, seed, _ := splitCreds(t, creds)
	return nats.UserJWTAndSeed(tok, string(seed))
}
