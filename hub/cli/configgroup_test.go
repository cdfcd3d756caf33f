package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteConfigGroup(t *testing.T) {
	gid := func(t *testing.T, p string) int {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Sys().(*syscall.Stat_t).Gid)
	}
	t.Run("private dir", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "hub.toml")
		if err := writeConfig(p, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("dir shared with a service group", func(t *testing.T) {
		groups, _ := os.Getgroups()
		other := -1
		for _, g := range append(groups, 65534) {
			if g != os.Getegid() {
				other = g
				break
			}
		}
		dir := t.TempDir()
		if err := os.Chown(dir, -1, other); err != nil {
			t.Skipf("cannot give the test dir another group (%v): needs root or a second group", err)
		}
		if err := os.Chmod(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "hub.toml")
		if err := writeConfig(p, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 || gid(t, p) != other {
			t.Errorf("mode %v group %d, want 0640 and %d", fi.Mode().Perm(), gid(t, p), other)
		}
	})
}
