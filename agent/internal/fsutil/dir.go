package fsutil

import (
	"fmt"
	"os"
)

// MkdirPrivate creates dir (and parents) and makes dir itself private to
// the process owner: mode 0700 on unix, a protected DACL for SYSTEM and
// Administrators on Windows.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	if err := makePrivate(dir); err != nil {
		return fmt.Errorf("restrict directory %s: %w", dir, err)
	}
	return nil
}
