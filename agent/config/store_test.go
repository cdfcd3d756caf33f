package config

import (
	"runtime"
	"strings"
	"testing"
)

func TestPFXAndWindowsStore(t *testing.T) {
	windows := runtime.GOOS == "windows"
	for _, tc := range []struct {
		name    string
		toml    string
		windows bool
		want    string
		check   func(t *testing.T, c Certificate)
	}{
		{name: "pfx", toml: "pfx = \"@/etc/ssl/web/web.pfx\"\npfx_password = \"x\"", check: func(t *testing.T, c Certificate) {
			if len(c.Paths()) != 3 {
				t.Errorf("paths %v: the pfx is written like the others", c.Paths())
			}
		}},
		{name: "relative pfx", toml: `pfx = "web.pfx"`, want: "certificate[0].pfx:"},
		{name: "pfx is the key", toml: `pfx = "@/etc/ssl/web/key.pem"`, want: "certificate[0].pfx:"},
		{name: "password alone", toml: `pfx_password = "x"`, want: "pfx_password: set without pfx"},
		{name: "exportable alone", toml: `key_exportable = true`, want: "key_exportable: set without windows_store"},
		{name: "store on unix", toml: `windows_store = "My"`, want: "windows_store: the Windows certificate store exists only on Windows"},
		{name: "store", windows: true, toml: `windows_store = "WebHosting"`, check: func(t *testing.T, c Certificate) {
			if c.FriendlyName != "certfleet web" || c.KeyExportable {
				t.Errorf("defaults: %q %v", c.FriendlyName, c.KeyExportable)
			}
		}},
		{name: "unknown store", windows: true, toml: `windows_store = "Root"`, want: "want My or WebHosting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.windows && !windows {
				t.Skip("Windows case")
			}
			if !tc.windows && windows && strings.Contains(tc.name, "unix") {
				t.Skip("unix case")
			}
			cfg, err := parseValid([]byte(osPaths(block + tc.toml)))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, cfg.Certificates[0])
			}
		})
	}
}
