//go:build unix && !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package fsutil

import (
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// fcntl locks are per process, so an in-process set makes a second Lock
// on the same file in this process fail as well.
var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

func lockFile(f *os.File) error {
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[f.Name()] {
		return ErrLocked
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return ErrLocked
		}
		return err
	}
	held[f.Name()] = true
	return nil
}

func unlockFile(f *os.File) error {
	heldMu.Lock()
	defer heldMu.Unlock()
	delete(held, f.Name())
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0}
	return unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
}
