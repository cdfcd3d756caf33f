package natsauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/shared"
)

func TestIssueAgentClaims(t *testing.T) {
	_, a := initAuth(t)
	before := time.Now()
	creds, pub, expires, err := a.IssueAgent("web-01", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	uc, kp := decodeCreds(t, creds)
	seedPub, _ := kp.PublicKey()
	checks := []struct {
		name string
		ok   bool
	}{
		{"name is the agent id", uc.Name == "web-01"},
		{"subject is the returned key", uc.Subject == pub && nkeys.IsValidPublicUserKey(pub)},
		{"seed belongs to the JWT", seedPub == pub},
		{"signed by the scoped key", uc.Issuer == a.AgentSigningKey()},
		{"issuer account set", uc.IssuerAccount == a.AgentsAccountPublicKey()},
		{"no own permissions or limits", uc.HasEmptyPermissions()},
		{"expiry returned as in the JWT", uc.Expires == expires.Unix()},
		{"expiry about ttl away", expires.After(before.Add(time.Hour-2*time.Second)) && !expires.After(time.Now().Add(time.Hour))},
		{"creds parse as an enrollment would", strings.Contains(string(creds), "NATS USER JWT") && strings.Contains(string(creds), "USER NKEY SEED")},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Fatalf("failed; claims: %+v", uc)
			}
		})
	}
	// Every issue makes a new key.
	_, pub2, _, err := a.IssueAgent("web-01", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if pub2 == pub {
		t.Fatal("two issues gave the same user key")
	}
}

var badAgentInputs = []struct {
	name string
	id   string
	ttl  time.Duration
}{
	{"empty id", "", time.Hour},
	{"upper case", "Web", time.Hour},
	{"dot widens the subject", "a.b", time.Hour},
	{"star wildcard", "*", time.Hour},
	{"full wildcard", ">", time.Hour},
	{"wildcard suffix", "a>", time.Hour},
	{"space", "a b", time.Hour},
	{"leading hyphen", "-a", time.Hour},
	{"too long", strings.Repeat("a", 64), time.Hour},
	{"template injection", "{{name()}}", time.Hour},
	{"zero ttl", "a", 0},
	{"negative ttl", "a", -time.Second},
	{"ttl over the maximum", "a", natsauth.MaxAgentTTL + time.Second},
}

func TestIssueAgentRejects(t *testing.T) {
	_, a := initAuth(t)
	for _, tc := range badAgentInputs {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := a.IssueAgent(tc.id, tc.ttl); err == nil {
				t.Fatalf("IssueAgent(%q, %s) succeeded", tc.id, tc.ttl)
			}
			_, pub, _, err := a.IssueAgent("ok", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.RenewAgentJWT(tc.id, pub, tc.ttl); err == nil {
				t.Fatalf("RenewAgentJWT(%q, %s) succeeded", tc.id, tc.ttl)
			}
		})
	}
}

// FuzzIssueAgentID: whatever the id, an accepted one is a single subject
// token, so the template cannot give an agent more than its own subjects.
func FuzzIssueAgentID(f *testing.F) {
	for _, tc := range badAgentInputs {
		f.Add(tc.id)
	}
	f.Add("web-01")
	f.Add("a_b")
	_, a := initAuth(f)
	f.Fuzz(func(t *testing.T, id string) {
		creds, _, _, err := a.IssueAgent(id, time.Minute)
		if err != nil {
			return
		}
		if strings.ContainsAny(id, ".*> \t\r\n{}") || shared.ValidateAgentID(id) != nil {
			t.Fatalf("IssueAgent accepted id %q", id)
		}
		uc, _ := decodeCreds(t, creds)
		if uc.Name != id {
			t.Fatalf("JWT name %q, want %q", uc.Name, id)
		}
	})
}

func TestRenewAgentJWT(t *testing.T) {
	_, a := initAuth(t)
	_, pub, first, err := a.IssueAgent("db1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := a.RenewAgentJWT("db1", pub, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	if uc.Subject != pub || uc.Name != "db1" || uc.Issuer != a.AgentSigningKey() || !uc.HasEmptyPermissions() {
		t.Fatalf("renewed claims %+v", uc)
	}
	if !exp.After(first) || uc.Expires != exp.Unix() {
		t.Fatalf("renewed expiry %s, first %s, JWT %d", exp, first, uc.Expires)
	}

	t.Run("not a user key", func(t *testing.T) {
		if _, _, err := a.RenewAgentJWT("db1", a.AccountPublicKey(), time.Hour); err == nil {
			t.Fatal("renewed for an account key")
		}
	})
	t.Run("revoked key", func(t *testing.T) {
		if err := a.Revoke(nil, pub); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.RenewAgentJWT("db1", pub, time.Hour); !errors.Is(err, natsauth.ErrRevoked) {
			t.Fatalf("RenewAgentJWT after Revoke = %v, want ErrRevoked", err)
		}
		if _, ok := a.Revocations()[pub]; !ok {
			t.Fatal("Revocations does not list the key")
		}
	})
	t.Run("revoke rejects non-user keys", func(t *testing.T) {
		if err := a.Revoke(nil, "nonsense"); err == nil {
			t.Fatal("revoked nonsense")
		}
	})
}
