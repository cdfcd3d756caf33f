package control

import (
	"errors"

	"golang.org/x/sys/windows"
)

// noUnixSockets tells whether a listen error means the system has no unix
// sockets (Windows before 10 1803, and wine).
func noUnixSockets(err error) bool { return errors.Is(err, windows.WSAEAFNOSUPPORT) }
