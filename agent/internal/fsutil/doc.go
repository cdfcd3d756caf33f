// Package fsutil holds the agent's file primitives: atomic writes with
// fsync, private directories, ownership and modes (unix only), and an
// exclusive lock file. Platform differences live in _unix and _windows
// files; callers never branch on GOOS.
package fsutil
