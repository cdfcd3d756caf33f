package fsutil

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked is returned by Lock when another process (or another Lock in
// this process) holds the lock.
var ErrLocked = errors.New("locked by another process")

// FileLock is an exclusive advisory lock on a file, held until Unlock.
type FileLock struct {
	f *os.File
}

// Lock takes an exclusive lock on path without waiting, creating the file
// (0600) if needed. The lock dies with the process, so a crash never
// leaves a stale lock behind.
func Lock(path string) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// Unlock releases the lock.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	cerr := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("close lock file: %w", cerr)
	}
	return nil
}
