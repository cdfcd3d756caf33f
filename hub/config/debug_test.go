package config

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateDebug(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		// detail is expected in the debug.pprof_listen error; "" for valid.
		detail string
	}{
		{"off", "", ""},
		{"ipv4 loopback", "127.0.0.1:6060", ""},
		{"ipv6 loopback", "[::1]:0", ""},
		{"localhost", "localhost:6060", ""},
		{"all addresses", ":6060", "loopback"},
		{"public address", "198.51.100.7:6060", "loopback"},
		{"no port", "127.0.0.1", "host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.Debug.PprofListen = tt.listen
			err := cfg.Validate()
			if tt.detail == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if got := fieldNames(err); !slices.Equal(got, []string{"debug.pprof_listen"}) {
				t.Fatalf("Validate() named fields %v, want exactly [debug.pprof_listen]; error: %v", got, err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Validate() = %q, want %q in it", err, tt.detail)
			}
		})
	}
}

func TestParseDebug(t *testing.T) {
	cfg, err := ParseConfig([]byte(minimalTOML + "\n[debug]\npprof_listen = \"127.0.0.1:6060\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Debug.PprofListen != "127.0.0.1:6060" {
		t.Errorf("debug.pprof_listen = %q, want 127.0.0.1:6060", cfg.Debug.PprofListen)
	}
}
