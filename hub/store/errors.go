package store

import "errors"

var (
	// ErrNotFound: no such key (or it was deleted, or its TTL expired).
	ErrNotFound = errors.New("not found")
	// ErrExists: a Create found the key already present.
	ErrExists = errors.New("already exists")
	// ErrConflict: a revision-checked update kept losing to concurrent
	// writers and gave up.
	ErrConflict = errors.New("concurrent update conflict")
)
