//go:build unix

package inventory

import (
	"os"
	"syscall"
)

// openNoBlock opens path for reading with O_NONBLOCK, so opening a FIFO
// returns at once instead of waiting for a writer; regular files ignore
// the flag.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
