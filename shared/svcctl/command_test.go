package svcctl

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

// fakeManager is a service manager in memory, with kardianos' rules:
// install refuses to overwrite its own unit file, uninstall fails on a
// missing one (with os.Remove's error), a unit shipped by a package
// counts as installed but is no file of ours.
type fakeManager struct {
	installed, running bool
	failed             bool // Status reports an error, as kardianos does for a failed systemd unit
	packaged           bool // installed is the package's unit, not ours
	sysv               bool // Status of a missing service fails (`service NAME status`: exit 1)
	def                *service.Config
	calls              []string
}

func (m *fakeManager) open(_ service.Interface, c *service.Config) (service.Service, error) {
	m.def = c
	return &fakeService{m: m}, nil
}

type fakeService struct{ m *fakeManager }

func (s *fakeService) Run() error { return nil }
func (s *fakeService) Install() error {
	s.m.calls = append(s.m.calls, "install")
	if s.m.installed && !s.m.packaged {
		return errors.New("Init already exists")
	}
	s.m.installed, s.m.packaged = true, false
	return nil
}
func (s *fakeService) Uninstall() error {
	s.m.calls = append(s.m.calls, "uninstall")
	if !s.m.installed || s.m.packaged {
		return &fs.PathError{Op: "remove", Path: "/etc/systemd/system/x.service", Err: fs.ErrNotExist}
	}
	s.m.installed = false
	return nil
}
func (s *fakeService) Start() error {
	s.m.calls = append(s.m.calls, "start")
	if !s.m.installed {
		return errors.New("unit not found")
	}
	s.m.running, s.m.failed = true, false
	return nil
}
func (s *fakeService) Stop() error {
	s.m.calls = append(s.m.calls, "stop")
	s.m.running, s.m.failed = false, false
	return nil
}
func (s *fakeService) Restart() error {
	s.m.calls = append(s.m.calls, "restart")
	if !s.m.installed {
		return errors.New("unit not found")
	}
	s.m.running = true
	return nil
}
func (s *fakeService) Status() (service.Status, error) {
	switch {
	case !s.m.installed && s.m.sysv:
		return service.StatusUnknown, errors.New("exit status 1")
	case !s.m.installed:
		return service.StatusUnknown, service.ErrNotInstalled
	case s.m.failed:
		return service.StatusUnknown, errors.New("service in failed state")
	case s.m.running:
		return service.StatusRunning, nil
	}
	return service.StatusStopped, nil
}
func (s *fakeService) Platform() string                            { return "fake" }
func (s *fakeService) String() string                              { return "fake" }
func (s *fakeService) Logger(chan<- error) (service.Logger, error) { return nil, nil }
func (s *fakeService) SystemLogger(chan<- error) (service.Logger, error) {
	return nil, nil
}

func run(t *testing.T, m *fakeManager, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := Command(Spec{
		Name: "certfleet-test", Binary: "certfleet-test",
		Definition: func(user string) (*service.Config, error) {
			return &service.Config{Name: "certfleet-test", UserName: user}, nil
		},
		New: m.open,
	}, &out)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestCommandIdempotent(t *testing.T) {
	type step struct {
		args    []string
		wantOut string
		wantErr string
	}
	for _, tc := range []struct {
		name        string
		start       fakeManager
		steps       []step
		wantInstall bool
		wantRunning bool
	}{
		{
			name: "install twice",
			steps: []step{
				{args: []string{"install"}, wantOut: "installed; start it with `certfleet-test service start`"},
				{args: []string{"install"}, wantOut: "was installed: definition updated"},
				{args: []string{"status"}, wantOut: "certfleet-test: stopped (fake)"},
			},
			wantInstall: true,
		},
		{
			name:  "install over a running service restarts it",
			start: fakeManager{installed: true, running: true},
			steps: []step{
				{args: []string{"install"}, wantOut: "definition updated, restarted"},
			},
			wantInstall: true, wantRunning: true,
		},
		{
			name:  "install over the package's unit",
			start: fakeManager{installed: true, packaged: true},
			steps: []step{
				{args: []string{"install"}, wantOut: "was installed: definition updated"},
			},
			wantInstall: true,
		},
		{
			name:  "uninstall the package's unit",
			start: fakeManager{installed: true, packaged: true, running: true},
			steps: []step{
				{args: []string{"uninstall"}, wantOut: "belongs to the installed package"},
			},
			wantInstall: true,
		},
		{
			name: "uninstall missing",
			steps: []step{
				{args: []string{"uninstall"}, wantOut: "certfleet-test: not installed, nothing to remove (fake)"},
				{args: []string{"status"}, wantOut: "certfleet-test: not installed (fake)"},
			},
		},
		{
			name:  "uninstall running stops first",
			start: fakeManager{installed: true, running: true},
			steps: []step{
				{args: []string{"uninstall"}, wantOut: "uninstalled"},
				{args: []string{"uninstall"}, wantOut: "nothing to remove"},
			},
		},
		{
			name:  "uninstall failed unit",
			start: fakeManager{installed: true, failed: true},
			steps: []step{
				{args: []string{"status"}, wantOut: "state unknown: service in failed state"},
				{args: []string{"uninstall"}, wantOut: "uninstalled"},
			},
		},
		{
			name:  "sysv: a missing service's status fails",
			start: fakeManager{sysv: true},
			steps: []step{
				{args: []string{"uninstall"}, wantOut: "not installed, nothing to remove"},
				{args: []string{"install"}, wantOut: "installed; start it"},
				{args: []string{"install"}, wantOut: "was installed: definition updated"},
				{args: []string{"status"}, wantOut: "stopped"},
				{args: []string{"uninstall"}, wantOut: "certfleet-test: uninstalled"},
				{args: []string{"uninstall"}, wantOut: "not installed, nothing to remove"},
			},
		},
		{
			name: "start, start, stop, stop",
			steps: []step{
				{args: []string{"start"}, wantErr: "not installed (fake): run `certfleet-test service install --config FILE` first"},
				{args: []string{"install"}, wantOut: "installed"},
				{args: []string{"start"}, wantOut: "certfleet-test: started (fake)"},
				{args: []string{"start"}, wantOut: "already running"},
				{args: []string{"stop"}, wantOut: "certfleet-test: stopped (fake)"},
				{args: []string{"stop"}, wantOut: "already stopped"},
				{args: []string{"restart"}, wantOut: "restarted"},
				{args: []string{"status"}, wantOut: "certfleet-test: running (fake)"},
			},
			wantInstall: true, wantRunning: true,
		},
		{
			name: "stop and restart need an installed service",
			steps: []step{
				{args: []string{"stop"}, wantErr: "is not installed"},
				{args: []string{"restart"}, wantErr: "is not installed"},
			},
		},
		{
			name: "unknown user",
			steps: []step{
				{args: []string{"install", "--user", "certfleet-no-such-user"}, wantErr: `user "certfleet-no-such-user"`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.start
			for _, s := range tc.steps {
				out, err := run(t, &m, s.args...)
				if s.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), s.wantErr) {
						t.Fatalf("%v: error %v, want %q", s.args, err, s.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%v: %v", s.args, err)
				}
				if !strings.Contains(out, s.wantOut) {
					t.Fatalf("%v: output %q, want %q", s.args, out, s.wantOut)
				}
			}
			if m.installed != tc.wantInstall || m.running != tc.wantRunning {
				t.Errorf("end state installed=%v running=%v, want %v %v (calls %v)", m.installed, m.running, tc.wantInstall, tc.wantRunning, m.calls)
			}
		})
	}
}

func TestInstallPassesUser(t *testing.T) {
	var m fakeManager
	if _, err := run(t, &m, "install", "--user", "root"); err != nil {
		t.Fatal(err)
	}
	if m.def.UserName != "root" {
		t.Errorf("definition user %q", m.def.UserName)
	}
}
