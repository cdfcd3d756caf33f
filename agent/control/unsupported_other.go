//go:build !windows

package control

import (
	"errors"
	"syscall"
)

// noUnixSockets tells whether a listen error means the system has no unix
// sockets.
func noUnixSockets(err error) bool { return errors.Is(err, syscall.EAFNOSUPPORT) }
