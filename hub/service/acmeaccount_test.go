package service

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/integration/pebble"
)

// useCA points th at ca with a data dir of its own.
func useCA(t testing.TB, h *Hub, ca *pebble.CA) {
	t.Helper()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(bundle, ca.TLSRootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	h.cfg.DataDir = filepath.Join(dir, "data")
	h.cfg.CA = []config.CAConfig{{Name: "pebble", Directory: ca.DirectoryURL(), Email: "ops@example.test", CABundle: bundle}}
}

func accountFiles(t *testing.T, h *Hub) []byte {
	t.Helper()
	key, reg, err := issuer.ReadAccountFiles(filepath.Join(h.dir().ACME(), "pebble"))
	if err != nil || key == nil {
		t.Fatalf("no account in %s: %v", h.cfg.DataDir, err)
	}
	return append(key, reg...)
}

// TestSharedACMEAccount: hubs on one NATS deployment order as one ACME
// account, the first to register, so any of them can resume another's
// order; a hub that brings an account of its own takes the shared one.
func TestSharedACMEAccount(t *testing.T) {
	ca, err := pebble.Start(pebble.Options{DNSServer: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ca.Close() })
	ctx := testCtx(t)

	first := newTestHub(t)
	useCA(t, first.Hub, ca)
	if _, err := first.issuer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	second := &Hub{cfg: first.cfg, log: first.log, store: first.store}
	useCA(t, second, ca)
	if _, err := second.issuer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(accountFiles(t, first.Hub), accountFiles(t, second)) {
		t.Fatal("the second hub registered an account of its own")
	}

	// A hub with its own account (registered alone, another store) joins.
	loner := newTestHub(t)
	useCA(t, loner.Hub, ca)
	if _, err := loner.issuer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	own := accountFiles(t, loner.Hub)
	if bytes.Equal(own, accountFiles(t, first.Hub)) {
		t.Fatal("two stores got the same account")
	}
	joiner := &Hub{cfg: loner.cfg, log: first.log, store: first.store}
	if _, err := joiner.issuer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(accountFiles(t, joiner), accountFiles(t, first.Hub)) {
		t.Fatal("a joining hub kept its own account instead of the shared one")
	}
}
