package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// maxOutput bounds the reload output kept for error messages and logs.
const maxOutput = 4 << 10

// Reload is what runs after new files are in place: one of a program,
// a shell line, a service reload, a signal to a PID file or a PowerShell
// command.
type Reload struct {
	// Argv runs a program directly; Shell runs a line through the system
	// shell (sh -c, or cmd /C on Windows). At most one of Argv, Shell,
	// Service, PIDFile and PowerShell is set.
	Argv  []string
	Shell string
	// Service is a systemd unit (systemctl Action Service) or, on
	// Windows, a Windows service to restart.
	Service, Action string
	// PIDFile names the process to send Signal ("HUP", "USR1", ...).
	PIDFile, Signal string
	// PowerShell is a PowerShell command (Windows).
	PowerShell string
	Timeout    time.Duration
	// Env is added to the agent's environment for the command.
	Env []string
	// Systemctl is the systemctl program; empty means "systemctl".
	Systemctl string
}

// Configured reports whether there is anything to run.
func (r Reload) Configured() bool {
	return len(r.Argv) > 0 || r.Shell != "" || r.Service != "" || r.PIDFile != "" || r.PowerShell != ""
}

// Describe says what the reload does, for logs and status reports.
func (r Reload) Describe() string {
	switch {
	case r.Service != "" && runtime.GOOS == "windows":
		return "restart Windows service " + r.Service
	case r.Service != "":
		return "systemctl " + r.Action + " " + r.Service
	case r.PIDFile != "":
		return "signal " + r.Signal + " to the process in " + r.PIDFile
	case r.PowerShell != "":
		return "powershell: " + r.PowerShell
	case r.Shell != "":
		return "shell: " + r.Shell
	case len(r.Argv) > 0:
		return "run: " + strings.Join(r.Argv, " ")
	}
	return ""
}

func (r Reload) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 30 * time.Second
	}
	return r.Timeout
}

// Run reloads within the timeout and returns the command's combined
// output (truncated), if a command ran. A non-zero exit, a timeout or a
// failure to start is an error that quotes the output's tail.
func (r Reload) Run(ctx context.Context, extraEnv ...string) (string, error) {
	if !r.Configured() {
		return "", nil
	}
	timeout := r.timeout()
	switch {
	case r.PIDFile != "":
		return "", signalPIDFile(r.PIDFile, r.Signal)
	case r.Service != "" && runtime.GOOS == "windows":
		return "", restartWindowsService(ctx, r.Service, timeout)
	}
	argv := r.Argv
	switch {
	case r.Shell != "" && runtime.GOOS == "windows":
		argv = []string{"cmd.exe", "/C", r.Shell}
	case r.Shell != "":
		argv = []string{"/bin/sh", "-c", r.Shell}
	case r.Service != "":
		systemctl := r.Systemctl
		if systemctl == "" {
			systemctl = "systemctl"
		}
		argv = []string{systemctl, r.Action, r.Service}
	case r.PowerShell != "":
		argv = []string{"powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", r.PowerShell}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), r.Env...), extraEnv...)
	var out limitedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	prepareCmd(cmd)
	// A child that keeps our pipes open must not hang the agent.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		if text != "" {
			return text, fmt.Errorf("run %s: %w: %s", argv[0], err, tail(text))
		}
		return text, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return text, nil
}

func tail(s string) string {
	const n = 512
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// limitedBuffer keeps the first maxOutput bytes and drops the rest, so a
// chatty command cannot grow the agent's memory.
type limitedBuffer struct {
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }
