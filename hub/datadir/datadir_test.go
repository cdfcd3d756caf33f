package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	d := Dir("/var/lib/certfleet-hub")
	tests := []struct{ name, got, want string }{
		{"auth", d.Auth(), "/var/lib/certfleet-hub/nats"},
		{"tls", d.TLS(), "/var/lib/certfleet-hub/tls"},
		{"acme", d.ACME(), "/var/lib/certfleet-hub/acme"},
		{"acmedns", d.ACMEDNS(), "/var/lib/certfleet-hub/acmedns"},
		{"jetstream", d.JetStream(), "/var/lib/certfleet-hub/jetstream"},
		{"admin creds", d.AdminCredsFile(), "/var/lib/certfleet-hub/nats/admin.creds"},
		{"ca", d.CAFile(), "/var/lib/certfleet-hub/tls/ca.pem"},
		{"run file", d.RunFile(), "/var/lib/certfleet-hub/run.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != filepath.FromSlash(tt.want) {
				t.Fatalf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestRunFile(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.ReadRunFile(); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "is the hub running?") {
		t.Fatalf("ReadRunFile() with no hub = %v", err)
	}
	want := RunFile{PID: 42, NATSURL: "nats://127.0.0.1:4222", DNSUDP: "127.0.0.1:53", DNSTCP: "127.0.0.1:53",
		Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Version: "v1.2.3", Web: "https://127.0.0.1:8443"}
	if err := d.WriteRunFile(want); err != nil {
		t.Fatal(err)
	}
	got, err := d.ReadRunFile()
	if err != nil || got != want {
		t.Fatalf("ReadRunFile() = %+v, %v; want %+v", got, err, want)
	}
	fi, err := os.Stat(d.RunFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("run file mode: %v %v", fi, err)
	}
	if _, err := os.Stat(d.RunFile() + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := d.RemoveRunFile(); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveRunFile(); err != nil {
		t.Fatalf("second RemoveRunFile() = %v", err)
	}
	if _, err := d.ReadRunFile(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadRunFile() after remove = %v", err)
	}
}

func TestReadRunFileRejects(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"not JSON", "pid=1", "parse run file"},
		{"too large", `{"version":"` + strings.Repeat("x", maxRunFile) + `"}`, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Dir(t.TempDir())
			if err := os.WriteFile(d.RunFile(), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ReadRunFile(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadRunFile() = %v, want %q", err, tt.want)
			}
		})
	}
}
