//go:build !windows

package install

import (
	"os/exec"
	"syscall"
)

// prepareCmd runs the reload in its own process group and kills the whole
// group on timeout, so shells' children die with them.
func prepareCmd(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
