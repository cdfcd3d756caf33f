package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// writeConfig writes a new config file 0600; in a config directory
// shared with a service group (the package's /etc/certfleet, root:certfleet
// 0750) it is 0640 and that group's, so the service user can read what
// root wrote.
func writeConfig(path string, data []byte) error {
	mode, gid := os.FileMode(0o600), -1
	if fi, err := os.Stat(filepath.Dir(path)); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) != os.Getegid() && fi.Mode().Perm()&0o050 == 0o050 {
			mode, gid = 0o640, int(st.Gid)
		}
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("write config: give it the directory's group: %w", err)
		}
		// WriteFile's mode applies only to a new file; --force rewrites.
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	return nil
}
