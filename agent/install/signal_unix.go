//go:build !windows

package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxPIDFile bounds what is read from a PID file.
const maxPIDFile = 64

// signalPIDFile sends the named signal ("HUP") to the process whose PID
// the file holds.
func signalPIDFile(path, name string) error {
	sig := unix.SignalNum("SIG" + name)
	if sig == 0 {
		return fmt.Errorf("signal %s: unknown signal", name)
	}
	pid, err := readPIDFile(path)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal %s to pid %d from %s: no such process (stale pid file?)", name, pid, path)
		}
		return fmt.Errorf("signal %s to pid %d from %s: %w", name, pid, path, err)
	}
	return nil
}

// readPIDFile reads a PID file: a positive decimal number above 1 (1 is
// init; 0 and negatives would signal process groups), optionally
// followed by a newline.
func readPIDFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxPIDFile+1)
	n, _ := io.ReadFull(f, buf)
	pid, err := parsePID(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("read pid file %s: %w", path, err)
	}
	return pid, nil
}

// parsePID reads a PID file's content.
func parsePID(data []byte) (int, error) {
	if len(data) > maxPIDFile {
		return 0, fmt.Errorf("over %d bytes, not a pid file", maxPIDFile)
	}
	text := strings.TrimSpace(string(data))
	pid, err := strconv.Atoi(text)
	if err != nil || pid <= 1 || strings.HasPrefix(text, "+") {
		return 0, fmt.Errorf("%q is not a process id", text)
	}
	return pid, nil
}

// restartWindowsService is Windows only; the configuration refuses it
// elsewhere.
func restartWindowsService(_ context.Context, name string, _ time.Duration) error {
	return fmt.Errorf("restart Windows service %s: not on Windows", name)
}
