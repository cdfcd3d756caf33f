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

// Reload is the command run after new files are in place.
type Reload struct {
	// Argv runs a program directly; Shell runs a line through the system
	// shell (sh -c, or cmd /C on Windows). At most one is set.
	Argv    []string
	Shell   string
	Timeout time.Duration
	// Env is added to the agent's environment for the command.
	Env []string
}

// Configured reports whether there is a command to run.
func (r Reload) Configured() bool { return len(r.Argv) > 0 || r.Shell != "" }

// Run runs the command with its timeout and returns its combined output
// (truncated). A non-zero exit, a timeout or a failure to start is an
// error that quotes the output's tail.
func (r Reload) Run(ctx context.Context, extraEnv ...string) (string, error) {
	if !r.Configured() {
		return "", nil
	}
	argv := r.Argv
	if r.Shell != "" {
		if runtime.GOOS == "windows" {
			argv = []string{"cmd.exe", "/C", r.Shell}
		} else {
			argv = []string{"/bin/sh", "-c", r.Shell}
		}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
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
