//go:build !windows

package install

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadSignalPIDFile signals this very test process through a PID
// file and sees the signal arrive.
func TestReloadSignalPIDFile(t *testing.T) {
	got := make(chan os.Signal, 1)
	signal.Notify(got, syscall.SIGUSR1)
	t.Cleanup(func() { signal.Stop(got) })
	pidFile := filepath.Join(t.TempDir(), "server.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Reload{PIDFile: pidFile, Signal: "USR1", Timeout: time.Second}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != syscall.SIGUSR1 {
			t.Fatalf("got %v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR1 never arrived")
	}
	if d := r.Describe(); d != "signal USR1 to the process in "+pidFile {
		t.Errorf("describe %q", d)
	}
}

func TestReloadSignalPIDFileErrors(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited: its PID is free (stale pid file).
	done := exec.Command(os.Args[0], "-test.run=^$")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing file", "", "read pid file"},
		{"garbage", "nginx\n", `"nginx" is not a process id`},
		{"init", "1\n", `"1" is not a process id`},
		{"process group", "-5", `"-5" is not a process id`},
		{"too long", strings.Repeat("1", 100), "not a pid file"},
		{"stale", strconv.Itoa(done.Process.Pid), "no such process (stale pid file?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pid")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Reload{PIDFile: path, Signal: "HUP"}.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// fakeSystemctl writes a systemctl stand-in (there is no systemd in the
// test containers) that logs its arguments and exits with code.
func fakeSystemctl(t *testing.T, code int, extra string) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	path, log = filepath.Join(dir, "systemctl"), filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" >> " + log + "\n" + extra + "\necho 'Job for nginx.service failed.' >&2\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func TestReloadSystemdService(t *testing.T) {
	for _, tc := range []struct {
		name, action, extra string
		code                int
		timeout             time.Duration
		wantErr             string
	}{
		{name: "reload", action: "reload"},
		{name: "restart", action: "restart"},
		{name: "fails", action: "reload", code: 1, wantErr: "exit status 1: Job for nginx.service failed."},
		{name: "hangs", action: "reload", extra: "sleep 60", timeout: 300 * time.Millisecond, wantErr: "timed out after 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systemctl, log := fakeSystemctl(t, tc.code, tc.extra)
			r := Reload{Service: "nginx.service", Action: tc.action, Systemctl: systemctl, Timeout: tc.timeout}
			_, err := r.Run(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			args, rerr := os.ReadFile(log)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if got := strings.TrimSpace(string(args)); got != tc.action+" nginx.service" {
				t.Errorf("systemctl called with %q", got)
			}
			if d := r.Describe(); d != "systemctl "+tc.action+" nginx.service" {
				t.Errorf("describe %q", d)
			}
		})
	}
}
