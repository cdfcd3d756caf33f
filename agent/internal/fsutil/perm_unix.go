//go:build !windows

package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// OwnershipSupported reports whether owner and group settings are applied
// on this platform.
const OwnershipSupported = true

func setMode(f *os.File, mode fs.FileMode) error { return f.Chmod(mode.Perm()) }

func setOwner(f *os.File, ids IDs) error {
	if ids.UID == -1 && ids.GID == -1 {
		return nil
	}
	return f.Chown(ids.UID, ids.GID)
}

func fileIDs(fi fs.FileInfo) IDs {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return IDs{UID: int(st.Uid), GID: int(st.Gid)}
	}
	return NoChange
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func makePrivate(dir string) error { return os.Chmod(dir, 0o700) }

// Resolve looks up the user and group names (or numeric ids) of o.
func Resolve(o Owner) (IDs, error) {
	ids := NoChange
	if o.User != "" {
		u, err := user.Lookup(o.User)
		if err != nil {
			if _, nerr := strconv.Atoi(o.User); nerr != nil {
				return ids, fmt.Errorf("look up user %q: %w", o.User, err)
			}
			u, err = user.LookupId(o.User)
			if err != nil {
				return ids, fmt.Errorf("look up user id %s: %w", o.User, err)
			}
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return ids, fmt.Errorf("user %q: uid %q is not numeric", o.User, u.Uid)
		}
		ids.UID = uid
	}
	if o.Group != "" {
		g, err := user.LookupGroup(o.Group)
		if err != nil {
			if _, nerr := strconv.Atoi(o.Group); nerr != nil {
				return ids, fmt.Errorf("look up group %q: %w", o.Group, err)
			}
			g, err = user.LookupGroupId(o.Group)
			if err != nil {
				return ids, fmt.Errorf("look up group id %s: %w", o.Group, err)
			}
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return ids, fmt.Errorf("group %q: gid %q is not numeric", o.Group, g.Gid)
		}
		ids.GID = gid
	}
	return ids, nil
}
