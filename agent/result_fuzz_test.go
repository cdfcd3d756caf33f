package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

const fuzzRequestID = "fuzzrequest0000000000"

// pendingAgent is an agent (not running, no hub) with one block whose
// request fuzzRequestID is pending.
func pendingAgent(tb testing.TB) (*Agent, config.Certificate) {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.DefaultConfig()
	cfg.StateDir = filepath.Join(dir, "state")
	b := config.Certificate{
		Name: "web", Names: []string{"www.example.org"}, KeyType: config.DefaultKeyType,
		Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"),
		Mode: config.FileMode{Mode: 0o600, Set: true}, CertMode: config.FileMode{Mode: 0o644, Set: true},
	}
	b.ReloadTimeout.Duration = time.Second
	cfg.Certificates = []config.Certificate{b}
	a, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	a.loopState = newLoopState(a, "agent1", nil)
	k, _ := keys.Generate(config.DefaultKeyType)
	kp, _ := keys.Marshal(k)
	if err := a.writePendingKey("web", kp); err != nil {
		tb.Fatal(err)
	}
	a.resetPending(b)
	return a, b
}

// resetPending makes fuzzRequestID the pending request again.
func (a *Agent) resetPending(b config.Certificate) {
	a.st = state.New()
	a.st.Cert(b.Name).Pending = &state.Pending{RequestID: fuzzRequestID, Spec: specOf(b), Published: true}
	a.outbox = nil
}

// FuzzHandleResult feeds arbitrary bytes through the path a result from
// the hub takes (decode, then handle). Nothing may panic, and since no
// input can hold a certificate for the key made in this process, no file
// may ever be written.
func FuzzHandleResult(f *testing.F) {
	ca := testca.NewTB(f)
	other, _ := keys.Generate(config.DefaultKeyType)
	wrong, _, _ := ca.Issue(testca.Leaf{Pub: other.Public(), Names: []string{"www.example.org"}})
	for _, r := range []*shared.CertResult{
		{RequestID: fuzzRequestID, CertName: "web", Status: shared.StatusIssued, Chain: wrong},
		{RequestID: fuzzRequestID, Status: shared.StatusIssued, Chain: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		{RequestID: fuzzRequestID, Status: shared.StatusFailed, Error: &shared.Error{Code: shared.CodeCAError, Message: "x"}},
		{RequestID: fuzzRequestID, CertName: "mail", Status: shared.StatusIssued, Chain: wrong},
		{RequestID: "otherrequest", Status: shared.StatusIssued, Chain: wrong},
	} {
		f.Add(shared.MustEncode(r))
	}
	f.Add([]byte(`{"type":"io.certfleet.v1.cert_result","request_id":"fuzzrequest0000000000","status":"issued","chain":"x"}`))
	// One agent per fuzz process, reset before each input: files are
	// slow, and every input must find the same pending request and key.
	a, b := pendingAgent(f)
	keyPath := a.cfg.PendingKeyPath(b.Name)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r shared.CertResult
		if err := shared.Decode(data, &r); err != nil {
			return
		}
		a.resetPending(b)
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		a.handleResult(context.Background(), &r)
		for _, p := range b.Paths() {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s written from fuzzed result", p)
			}
		}
		c := a.st.Certificates["web"]
		if c.Pending != nil && c.Pending.RequestID == fuzzRequestID && r.RequestID == fuzzRequestID && (r.CertName == "" || r.CertName == "web") {
			t.Fatal("a result for the pending request left it pending without installing")
		}
	})
}

func TestRenewTime(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	hub := nb.Add(50 * 24 * time.Hour)
	for name, tc := range map[string]struct {
		before  time.Duration
		renewAt time.Time
		want    time.Time
	}{
		"two thirds":          {0, time.Time{}, nb.Add(60 * 24 * time.Hour)},
		"hub advice":          {0, hub, hub},
		"advice after expiry": {0, na.Add(time.Hour), nb.Add(60 * 24 * time.Hour)},
		"renew_before wins":   {10 * 24 * time.Hour, hub, na.Add(-10 * 24 * time.Hour)},
	} {
		b := config.Certificate{}
		b.RenewBefore.Duration = tc.before
		c := &state.Cert{NotBefore: nb, NotAfter: na, RenewAt: tc.renewAt}
		if got := renewTime(b, c); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
	if !renewTime(config.Certificate{}, &state.Cert{}).IsZero() {
		t.Error("renew time without a certificate")
	}
}

func TestBackoff(t *testing.T) {
	a := &Agent{opts: Options{RetryBase: time.Minute, RetryMax: time.Hour}}
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 30: time.Hour} {
		got := a.backoff(n)
		if got > want || got < want*4/5 {
			t.Errorf("backoff(%d) = %s, want within a fifth below %s", n, got, want)
		}
	}
}
