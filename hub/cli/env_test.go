package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestAdminEnvironment: the admin connection's flags default to NATS_URL,
// CERTFLEET_CREDS and CERTFLEET_CA, and --version prints the version.
func TestAdminEnvironment(t *testing.T) {
	t.Setenv("NATS_URL", "tls://hub.example.test:4222")
	t.Setenv("CERTFLEET_CREDS", "/tmp/admin.creds")
	t.Setenv("CERTFLEET_CA", "/tmp/ca.pem")
	var out bytes.Buffer
	root := NewRoot(&out, &out, nil)
	for flag, want := range map[string]string{"nats-url": "tls://hub.example.test:4222", "creds": "/tmp/admin.creds", "ca": "/tmp/ca.pem"} {
		if got := root.PersistentFlags().Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q", flag, got, want)
		}
	}
	root.SetArgs([]string{"--version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), Version) {
		t.Fatalf("--version printed %q", out.String())
	}
}
