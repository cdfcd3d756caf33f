package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

func jwtFor(sub string, exp int64, typ string) string {
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp, "nats": map[string]any{"type": typ}})
	return enc.EncodeToString([]byte(`{"alg":"ed25519-nkey"}`)) + "." + enc.EncodeToString(body) + ".sig"
}

func TestCredsRoundTripAndUpdate(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	other, _ := nkeys.CreateUser()
	otherPub, _ := other.PublicKey()
	path := filepath.Join(t.TempDir(), "agent.creds")
	first := jwtFor(pub, time.Now().Add(time.Hour).Unix(), "user")
	if err := os.WriteFile(path, FormatCreds(first, seed), 0o600); err != nil {
		t.Fatal(err)
	}
	jwt, kp2, err := ReadCreds(path)
	if err != nil || jwt != first {
		t.Fatalf("read creds: %v", err)
	}
	if p, _ := kp2.PublicKey(); p != pub {
		t.Fatal("seed changed in round trip")
	}
	now := time.Now()
	for name, tc := range map[string]struct {
		jwt  string
		want string
	}{
		"other key": {jwtFor(otherPub, now.Add(time.Hour).Unix(), "user"), "not this agent's key"},
		"expired":   {jwtFor(pub, now.Add(-time.Hour).Unix(), "user"), "expired"},
		"account":   {jwtFor(pub, 0, "account"), "not a user jwt"},
		"garbage":   {"abc", "three"},
		"bad b64":   {"a.!!!.c", "claims"},
	} {
		if _, _, err := UpdateCreds(path, tc.jwt, now); !errors.Is(err, ErrCredsRejected) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrCredsRejected saying %q", name, err, tc.want)
		}
	}
	if jwt, _, _ := ReadCreds(path); jwt != first {
		t.Fatal("rejected update changed the file")
	}
	next := jwtFor(pub, now.Add(48*time.Hour).Unix(), "user")
	exp, changed, err := UpdateCreds(path, next, now)
	if err != nil || !changed || exp.Unix() != now.Add(48*time.Hour).Unix() {
		t.Fatalf("update: %v %v %v", exp, changed, err)
	}
	if _, changed, err := UpdateCreds(path, next, now); err != nil || changed {
		t.Fatalf("same jwt again: changed %v, %v", changed, err)
	}
	jwt, kp3, err := ReadCreds(path)
	if err != nil || jwt != next {
		t.Fatalf("after update: %v", err)
	}
	if p, _ := kp3.PublicKey(); p != pub {
		t.Fatal("seed lost in update")
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("creds mode %v", fi.Mode().Perm())
		}
	}
}

func FuzzParseJWTClaims(f *testing.F) {
	f.Add(jwtFor("UABC", 1, "user"))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseJWTClaims(s)
		if err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
		_, _ = CheckUserJWT(s, "UABC", time.Now())
	})
}
