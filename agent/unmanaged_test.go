package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/agent/inventory"
)

// TestStatusReportsUnmanaged: with [inventory] covering both its own
// certificate directory and another one, the agent reports the foreign
// certificate as unmanaged, and never its own (cert, chain, fullchain or
// key), also after it installed them.
func TestStatusReportsUnmanaged(t *testing.T) {
	w := newWorld(t)
	other := filepath.Join(filepath.Dir(w.cfg.StateDir), "legacy")
	if err := os.MkdirAll(filepath.Join(other, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain, legacy, err := testca.NewTB(t).Issue(testca.Leaf{Pub: key.Public(), Names: []string{"old.example.org"}, Lifetime: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "site", "old.pem"), []byte(chain), 0o644); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Dir(w.cfg.Certificates[0].Cert)
	w.cfg.Inventory.Paths = []string{filepath.Join(certDir, "*.pem"), filepath.Join(other, "**")}
	opts := fastOptions()
	opts.InventoryInterval = 200 * time.Millisecond
	startAgentWith(t, w.cfg, opts)
	w.waitInstalled(t, "")
	// Only reports made well after the install count: by then scans
	// (every ~200 ms) have seen the agent's own files.
	after := time.Now().Add(time.Second)
	fp := inventory.Fingerprint(legacy)
	w.hub.Wait(t, 20*time.Second, "a status report listing only the legacy certificate", func() bool {
		reps := w.hub.Statuses(agentID)
		if len(reps) == 0 {
			return false
		}
		last := reps[len(reps)-1]
		if last.Sent.Before(after) {
			return false
		}
		if len(last.Unmanaged) != 1 {
			if len(last.Unmanaged) > 1 {
				t.Fatalf("unmanaged: %+v", last.Unmanaged)
			}
			return false
		}
		u := last.Unmanaged[0]
		return u.SHA256 == fp && u.Path == filepath.Join(other, "site", "old.pem") && u.NotAfter.Equal(legacy.NotAfter) &&
			len(u.SANs) == 1 && u.SANs[0] == "old.example.org" && last.UnmanagedOmitted == 0
	})
}
