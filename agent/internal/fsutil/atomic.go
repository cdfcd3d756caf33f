package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Owner names the owner and group a file should get. Empty fields leave
// the value the process creates files with. Ignored on Windows.
type Owner struct {
	User  string
	Group string
}

// IsZero reports whether no ownership change is asked for.
func (o Owner) IsZero() bool { return o.User == "" && o.Group == "" }

// IDs are resolved numeric owner ids; -1 means "leave as is".
type IDs struct {
	UID int
	GID int
}

// NoChange leaves ownership as the process creates it.
var NoChange = IDs{UID: -1, GID: -1}

// WriteFile writes data to path atomically: a temporary file in the same
// directory is written, given mode and ownership, fsynced and renamed over
// path, and the directory is fsynced. Readers see the old file or the new
// one, never a mix. mode is applied on unix only.
func WriteFile(path string, data []byte, mode fs.FileMode, ids IDs) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	// Mode and owner go on before the data, so secret bytes never sit in
	// a file others may read.
	if err := setMode(tmp, mode); err != nil {
		return fmt.Errorf("set mode of %s: %w", path, err)
	}
	if err := setOwner(tmp, ids); err != nil {
		return fmt.Errorf("set owner of %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}

// WritePrivate writes a secret file (mode 0600, process owner) atomically.
func WritePrivate(path string, data []byte) error {
	return WriteFile(path, data, 0o600, NoChange)
}

// Snapshot is a file's content and metadata, taken before it is replaced
// so it can be put back.
type Snapshot struct {
	Path   string
	Exists bool
	Data   []byte
	Mode   fs.FileMode
	IDs    IDs
}

// Take reads path into a Snapshot. A missing file is a Snapshot with
// Exists false; any other read error is returned.
func Take(path string) (Snapshot, error) {
	s := Snapshot{Path: path, IDs: NoChange}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return s, fmt.Errorf("stat %s: not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	s.Exists = true
	s.Data = data
	s.Mode = fi.Mode().Perm()
	s.IDs = fileIDs(fi)
	return s, nil
}

// Restore puts the snapshot back: the old content, mode and owner, or no
// file if there was none.
func (s Snapshot) Restore() error {
	if !s.Exists {
		if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", s.Path, err)
		}
		return nil
	}
	return WriteFile(s.Path, s.Data, s.Mode, s.IDs)
}
