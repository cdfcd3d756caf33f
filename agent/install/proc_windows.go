//go:build windows

package install

import "os/exec"

// prepareCmd keeps exec's default on Windows: the process is killed on
// timeout.
func prepareCmd(*exec.Cmd) {}
