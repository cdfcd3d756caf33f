package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process whose output goes to a log file.
type Proc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// StartProc starts bin with args, logging stdout and stderr to logPath
// (appended, so restarts keep one log).
func StartProc(bin, logPath string, args ...string) (*Proc, error) {
	return StartProcIn("", bin, logPath, args...)
}

// StartProcIn is StartProc with dir as the working directory ("" for the
// test's own).
func StartProcIn(dir, bin, logPath string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the exit error once exited.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and waits up to timeout for a clean exit; it returns
// the exit error (nil for exit code 0), or an error after a SIGKILL.
func (p *Proc) Stop(timeout time.Duration) error { return p.StopWith(syscall.SIGTERM, timeout) }

// StopWith is Stop with another signal: SIGINT for a Windows program
// under wine, which turns it into Ctrl-C (wine ends the process on
// SIGTERM without telling it).
func (p *Proc) StopWith(sig os.Signal, timeout time.Duration) error {
	if p.Exited() {
		return p.err
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return errors.New("did not stop within " + timeout.String() + "; killed")
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// LogTail returns the last n lines of the log.
func (p *Proc) LogTail(n int) string { return tail(p.logPath, n) }

// LogPath returns the log file's path.
func (p *Proc) LogPath() string { return p.logPath }

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
