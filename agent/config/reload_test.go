package config

import (
	"runtime"
	"strings"
	"testing"
)

func TestReloadHooks(t *testing.T) {
	windows := runtime.GOOS == "windows"
	for _, tc := range []struct {
		name    string
		toml    string
		windows bool   // the case is about Windows; else about unix
		want    string // error substring; "" = valid
		check   func(t *testing.T, c Certificate)
	}{
		{name: "systemd unit, default action", toml: `reload_service = "nginx.service"`, check: func(t *testing.T, c Certificate) {
			if c.ReloadAction != ActionReload || strings.Join(c.ReloadMethods(), ",") != "reload_service" {
				t.Errorf("action %q methods %v", c.ReloadAction, c.ReloadMethods())
			}
		}},
		{name: "systemd restart", toml: "reload_service = \"getty@tty1.service\"\nreload_action = \"reload-or-restart\""},
		{name: "bad action", toml: "reload_service = \"nginx\"\nreload_action = \"kick\"", want: "certificate[0].reload_action:"},
		{name: "action alone", toml: `reload_action = "restart"`, want: "reload_action: set without reload_service"},
		{name: "bad unit name", toml: `reload_service = "-nginx; rm"`, want: "certificate[0].reload_service:"},
		{name: "pid file, default signal", toml: `reload_pid_file = "/run/nginx.pid"`, check: func(t *testing.T, c Certificate) {
			if c.ReloadSignal != "HUP" {
				t.Errorf("signal %q", c.ReloadSignal)
			}
		}},
		{name: "pid file, SIGUSR2", toml: "reload_pid_file = \"/run/haproxy.pid\"\nreload_signal = \"sigusr2\"", check: func(t *testing.T, c Certificate) {
			if c.ReloadSignal != "USR2" {
				t.Errorf("signal %q", c.ReloadSignal)
			}
		}},
		{name: "relative pid file", toml: `reload_pid_file = "nginx.pid"`, want: "reload_pid_file: \"nginx.pid\": want an absolute path"},
		{name: "bad signal", toml: "reload_pid_file = \"/run/x.pid\"\nreload_signal = \"KILL\"", want: "certificate[0].reload_signal:"},
		{name: "signal alone", toml: `reload_signal = "HUP"`, want: "reload_signal: set without reload_pid_file"},
		{name: "two methods", toml: "reload_shell = \"x\"\nreload_service = \"nginx\"", want: "reload_shell, reload_service are set"},
		{name: "powershell on unix", toml: `reload_powershell = "Restart-Service W3SVC"`, want: "reload_powershell: PowerShell reloads are Windows only"},
		{name: "powershell", windows: true, toml: `reload_powershell = "Restart-WebAppPool DefaultAppPool"`},
		{name: "windows service restarts", windows: true, toml: `reload_service = "W3SVC"`, check: func(t *testing.T, c Certificate) {
			if c.ReloadAction != ActionRestart {
				t.Errorf("action %q", c.ReloadAction)
			}
		}},
		{name: "windows service reload", windows: true, toml: "reload_service = \"W3SVC\"\nreload_action = \"reload\"", want: "can only be restarted"},
		{name: "pid file on windows", windows: true, toml: `reload_pid_file = 'C:\x.pid'`, want: "signals are unix only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.windows != windows {
				t.Skipf("case for windows=%v", tc.windows)
			}
			cfg, err := parseValid([]byte(osPaths(block) + tc.toml))
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
