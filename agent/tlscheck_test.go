package agent_test

import (
	"slices"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/install"
	"github.com/certfleet/certfleet/agent/internal/tlstest"
	"github.com/certfleet/certfleet/shared"
)

// TestTLSCheckAfterInstall: with check_tls set, the agent installs when
// the service presents the new certificate, and puts the previous files
// back (and says why) when it does not.
func TestTLSCheckAfterInstall(t *testing.T) {
	w := newWorld(t)
	cfg := w.cfg
	cfg.Certificates = slices.Clone(cfg.Certificates)
	b := &cfg.Certificates[0]
	srv := tlstest.Start(t, b.Cert, b.Key)
	b.CheckTLS = srv.Addr
	// Long enough for a loaded machine to serve the new files; the frozen
	// service below then fails after this long.
	b.CheckTimeout.Duration = 5 * time.Second
	startAgent(t, cfg)

	first := w.waitInstalled(t, "")
	if got := srv.Served(t, "www.example.org"); got != first {
		t.Fatalf("service presents %s, want the installed %s", got, first)
	}
	for _, sn := range srv.ServerNames() {
		if sn != "www.example.org" {
			t.Errorf("check asked for %q, want the first name", sn)
		}
	}

	// The service stops picking up new files.
	srv.Freeze()
	w.hub.Publish(t, shared.Down(agentID, shared.VerbRenew), shared.MustEncode(&shared.RenewCommand{CertName: "web"}))
	w.hub.Wait(t, 45*time.Second, "the failed check reported", func() bool {
		for _, s := range w.hub.Statuses(agentID) {
			if cs := s.Certificates[0]; cs.LastErrorCode == "tls_check_failed" {
				if cs.Serial != first || cs.NextAttempt.IsZero() || cs.Pending == "" {
					t.Errorf("reported serial %s next attempt %s pending %q, want the old serial and a retry of the pending request", cs.Serial, cs.NextAttempt, cs.Pending)
				}
				return true
			}
		}
		return false
	})
	if got := install.SerialHex(installedLeaf(t, *b)); got != first {
		t.Errorf("files hold %s after the failed check, want the previous %s", got, first)
	}
	if got := reloads(t, w.reloadLog); len(got) < 3 || !slices.Equal(got[:3], []string{"reload", "reload", "rollback"}) {
		t.Errorf("reload log %v, want reload, reload, rollback", got)
	}
}
