package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/datadir"
)

// TestDefaultAdminCreds: the data dir's admin.creds, or on an external
// NATS where there is none, the one nats-setup wrote next to the hub's.
func TestDefaultAdminCreds(t *testing.T) {
	dataDir, setup := t.TempDir(), t.TempDir()
	ext := &config.ExternalNATS{Credentials: filepath.Join(setup, "hub.creds")}
	inData := filepath.Join(datadir.Dir(dataDir).Auth(), "admin.creds")
	cases := []struct {
		name     string
		external *config.ExternalNATS
		inData   bool
		want     string
	}{
		{"embedded", nil, false, inData},
		{"external, none in the data dir", ext, false, filepath.Join(setup, "admin.creds")},
		{"external, one in the data dir", ext, true, inData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.RemoveAll(datadir.Dir(dataDir).Auth())
			if tc.inData {
				if err := os.MkdirAll(datadir.Dir(dataDir).Auth(), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(inData, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := config.Config{DataDir: dataDir}
			cfg.NATS.External = tc.external
			if got := defaultAdminCreds(cfg); got != tc.want {
				t.Fatalf("defaultAdminCreds = %s, want %s", got, tc.want)
			}
		})
	}
}
