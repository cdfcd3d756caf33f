//go:build !windows

package certstore

import "errors"

// Open returns the LocalMachine certificate store; Windows only.
func Open() (Store, error) {
	return nil, errors.New("the Windows certificate store exists only on Windows")
}
