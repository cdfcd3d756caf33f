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
	list, _, err := root.Find([]string{"agent", "list"})
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"nats-url": "tls://hub.example.test:4222", "creds": "/tmp/admin.creds", "ca": "/tmp/ca.pem"} {
		f := list.Flags().Lookup(flag)
		if f == nil {
			f = list.InheritedFlags().Lookup(flag)
		}
		if f == nil || f.DefValue != want {
			t.Errorf("agent list --%s: %+v, want default %q", flag, f, want)
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

// TestAdminFlagsBeforeTheCommand: the admin connection's and the config's
// flags may still come before the command's name, as the README's
// `certfleet-hub --creds FILE --ca FILE agent list` writes them.
func TestAdminFlagsBeforeTheCommand(t *testing.T) {
	root := NewRoot(&bytes.Buffer{}, &bytes.Buffer{}, nil)
	args := []string{"--creds", "/tmp/admin.creds", "-c", "/tmp/hub.toml", "--ca", "/tmp/ca.pem", "agent", "list"}
	c, rest, err := root.Find(args)
	if err != nil || c.CommandPath() != "certfleet-hub agent list" {
		t.Fatalf("found %v, %v", c.CommandPath(), err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"creds": "/tmp/admin.creds", "ca": "/tmp/ca.pem", "config": "/tmp/hub.toml"} {
		if got := c.Flag(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}
