package natsauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/natsauth"
)

// TestRevokeCutsOffLiveAgent: Revoke closes the agent's live connection
// within seconds, refuses its reconnect, and leaves other agents alone.
func TestRevokeCutsOffLiveAgent(t *testing.T) {
	dir, a := initAuth(t)
	l := startServer(t, a, filepath.Join(filepath.Dir(dir), "js"))
	hub := l.connect(t, a.HubCreds())
	helloResponder(t, hub)
	sys := l.connect(t, a.SystemCreds())

	victim, victimCreds, victimPub := agentConn(t, a, l, "victim", time.Hour)
	other, _, _ := agentConn(t, a, l, "other", time.Hour)
	if err := hello(victim, "victim"); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	if err := a.Revoke(sys, victimPub); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, victim.IsClosed, "the revoked agent's connection to close")
	t.Logf("revoked agent cut off %s after Revoke was called", time.Since(began).Round(time.Microsecond))

	if nc, err := l.dial(victimCreds); err == nil {
		nc.Close()
		t.Fatal("revoked agent reconnected")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("reconnect refused with %v, want an authorization violation", err)
	}
	if err := hello(other, "other"); err != nil {
		t.Fatalf("other agent after the revocation: %v", err)
	}
	// Revoking again re-pushes and is harmless.
	if err := a.Revoke(sys, victimPub); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.RenewAgentJWT("victim", victimPub, time.Hour); !errors.Is(err, natsauth.ErrRevoked) {
		t.Fatalf("RenewAgentJWT for the revoked key = %v", err)
	}
}

func TestRevokePushFailsWithoutSystemUser(t *testing.T) {
	dir, a := initAuth(t)
	l := startServer(t, a, filepath.Join(filepath.Dir(dir), "js"))
	hub := l.connect(t, a.HubCreds())
	_, _, pub := agentConn(t, a, l, "x", time.Hour)
	// The hub user is in the CERTFLEET account: $SYS subjects are not its.
	err := a.Revoke(hub, pub)
	if err == nil {
		t.Fatal("push through a non-system connection reported success")
	}
	// The revocation was still saved.
	b, lerr := natsauth.Load(dir)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if !b.IsRevoked(pub) {
		t.Fatalf("revocation not saved after a failed push (%v)", err)
	}
}

// TestExpiredJWTRefused: an agent JWT with a 2 s lifetime works, then its
// connection is closed and new connections are refused once it expires.
func TestExpiredJWTRefused(t *testing.T) {
	dir, a := initAuth(t)
	l := startServer(t, a, filepath.Join(filepath.Dir(dir), "js"))
	creds, _, expires, err := a.IssueAgent("shortlived", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	path := writeCreds(t, "shortlived", creds)
	nc := l.connect(t, path)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var refused time.Time
	var lastErr error
	waitUntil(t, 10*time.Second, func() bool {
		c, err := l.dial(path)
		if err == nil {
			c.Close()
			return false
		}
		refused, lastErr = time.Now(), err
		return true
	}, "connections with the expired JWT to be refused")
	if refused.Before(expires) {
		t.Fatalf("refused at %s, before the JWT expired at %s: %v", refused, expires, lastErr)
	}
	if !strings.Contains(strings.ToLower(lastErr.Error()), "expired") && !strings.Contains(strings.ToLower(lastErr.Error()), "authorization violation") {
		t.Fatalf("refused with %v", lastErr)
	}
	t.Logf("refused %s after expiry: %v", refused.Sub(expires).Round(time.Millisecond), lastErr)
	waitUntil(t, 5*time.Second, nc.IsClosed, "the live connection to close at expiry")
	t.Logf("live connection closed %s after expiry", time.Since(expires).Round(time.Millisecond))
}

// TestStateSurvivesRestart: revocations (pushed live, or saved while the
// server was down) hold after a restart from disk; JetStream data stays.
func TestStateSurvivesRestart(t *testing.T) {
	dir, a := initAuth(t)
	store := filepath.Join(filepath.Dir(dir), "js")
	l := startServer(t, a, store)
	sys := l.connect(t, a.SystemCreds())
	_, liveCreds, livePub := agentConn(t, a, l, "revoked-live", time.Hour)
	_, offlineCreds, offlinePub := agentConn(t, a, l, "revoked-offline", time.Hour)
	keep, keepCreds, _ := agentConn(t, a, l, "kept", time.Hour)
	keep.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(l.connect(t, a.HubCreds()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "STATE", Subjects: []string{"state.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "state.1", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(sys, livePub); err != nil {
		t.Fatal(err)
	}
	l.srv.Shutdown()
	if err := a.Revoke(nil, offlinePub); err != nil {
		t.Fatal(err)
	}

	b, err := natsauth.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	l2 := startServer(t, b, store)
	for _, c := range []struct{ name, creds string }{{"revoked-live", liveCreds}, {"revoked-offline", offlineCreds}} {
		t.Run(c.name+" refused", func(t *testing.T) {
			if nc, err := l2.dial(c.creds); err == nil {
				nc.Close()
				t.Fatal("connected after restart")
			}
		})
	}
	t.Run("kept agent connects", func(t *testing.T) {
		l2.connect(t, keepCreds)
	})
	t.Run("jetstream data kept", func(t *testing.T) {
		js, err := jetstream.New(l2.connect(t, b.HubCreds()))
		if err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, "STATE")
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.GetMsg(ctx, 1); err != nil || string(m.Data) != "v" {
			t.Fatalf("message after restart: %v, %v", m, err)
		}
	})
}

// TestExternalMode plays an existing deployment with the embedded server and
// gives the hub only the scoped signing key, the account and hub creds.
func TestExternalMode(t *testing.T) {
	dir, a := initAuth(t)
	l := startServer(t, a, filepath.Join(filepath.Dir(dir), "js"))
	ext, err := natsauth.LoadExternal(filepath.Join(dir, "agents-signing.nk"), a.AgentsAccountPublicKey(), filepath.Join(dir, "hub.creds"))
	if err != nil {
		t.Fatal(err)
	}
	if !ext.External() || ext.AdminCreds() != "" || ext.SystemCreds() != "" || ext.HubCreds() == "" || ext.AccountPublicKey() != a.AccountPublicKey() {
		t.Fatalf("external accessors: external %v admin %q system %q hub %q", ext.External(), ext.AdminCreds(), ext.SystemCreds(), ext.HubCreds())
	}
	hub := l.connect(t, ext.HubCreds())
	helloResponder(t, hub)
	agent, _, pub := agentConn(t, ext, l, "ext-agent", time.Hour)
	if err := hello(agent, "ext-agent"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ext.RenewAgentJWT("ext-agent", pub, time.Hour); err != nil {
		t.Fatal(err)
	}
	err = ext.Revoke(nil, pub)
	if !errors.Is(err, natsauth.ErrNoLiveRevocation) {
		t.Fatalf("external Revoke = %v, want ErrNoLiveRevocation", err)
	}
	if !ext.IsRevoked(pub) {
		t.Fatal("external Revoke not recorded")
	}
	if _, _, err := ext.RenewAgentJWT("ext-agent", pub, time.Hour); !errors.Is(err, natsauth.ErrRevoked) {
		t.Fatalf("renew after external Revoke = %v, want ErrRevoked", err)
	}
	if err := ext.ConfigureServer(&server.Options{}); !errors.Is(err, natsauth.ErrExternal) {
		t.Fatalf("external ConfigureServer = %v, want ErrExternal", err)
	}
	if ext.AccountJWT() != "" {
		t.Fatal("external Authority claims to hold the account JWT")
	}
}

func TestLoadExternalErrors(t *testing.T) {
	dir, a := initAuth(t)
	acc := a.AgentsAccountPublicKey()
	agentCreds, _, _, err := a.IssueAgent("inside", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.creds"), agentCreds, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name             string
		seed, pub, creds string
		want             string
	}{
		{"account not a public key", "agents-signing.nk", "nonsense", "hub.creds", "not an account public key"},
		{"missing seed file", "missing.nk", acc, "hub.creds", "missing.nk"},
		{"operator seed", "operator.nk", acc, "hub.creds", "seed"},
		{"account identity key", "agents-account.nk", acc, "hub.creds", "identity key"},
		{"hub creds in the agents account", "agents-signing.nk", acc, "agent.creds", "agents need an account of their own"},
		{"missing creds", "agents-signing.nk", acc, "missing.creds", "missing.creds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := natsauth.LoadExternal(filepath.Join(dir, tc.seed), tc.pub, filepath.Join(dir, tc.creds))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadExternal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
