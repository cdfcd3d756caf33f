package fsutil

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(content), 0o640, NoChange); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != content {
			t.Fatalf("content %q, want %q", got, content)
		}
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWriteFileFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o600, NoChange); err != nil {
		t.Fatal(err)
	}
	// The target is a directory: rename must fail, the temp file must go.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("new"), 0o600, NoChange); err == nil {
		t.Fatal("write over a directory succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600, NoChange); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o640, NoChange); err != nil {
		t.Fatal(err)
	}
	s, err := Take(p)
	if err != nil || !s.Exists {
		t.Fatalf("take: %+v %v", s, err)
	}
	if err := WriteFile(p, []byte("new"), 0o600, NoChange); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("restored %q", got)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("restored mode %v", fi.Mode().Perm())
		}
	}

	missing := filepath.Join(dir, "new")
	s, err = Take(missing)
	if err != nil || s.Exists {
		t.Fatalf("take missing: %+v %v", s, err)
	}
	os.WriteFile(missing, []byte("x"), 0o600)
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore of a missing file left it: %v", err)
	}
	if _, err := Take(dir); err == nil {
		t.Error("snapshot of a directory accepted")
	}
}

func TestResolveOwner(t *testing.T) {
	if !OwnershipSupported {
		t.Skip("no unix ownership")
	}
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip(err)
	}
	for name, o := range map[string]Owner{
		"names":   {User: u.Username, Group: g.Name},
		"numbers": {User: u.Uid, Group: u.Gid},
	} {
		ids, err := Resolve(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ids.UID < 0 || ids.GID < 0 {
			t.Errorf("%s: %+v", name, ids)
		}
	}
	if _, err := Resolve(Owner{User: "no-such-user-certfleet"}); err == nil {
		t.Error("unknown user resolved")
	}
	if _, err := Resolve(Owner{Group: "no-such-group-certfleet"}); err == nil {
		t.Error("unknown group resolved")
	}
	if ids, err := Resolve(Owner{}); err != nil || ids != NoChange {
		t.Errorf("empty owner: %+v %v", ids, err)
	}
}

func TestMkdirPrivate(t *testing.T) {
	d := filepath.Join(t.TempDir(), "a", "b")
	if err := MkdirPrivate(d); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		os.Chmod(d, 0o755)
		if err := MkdirPrivate(d); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("mode %v", fi.Mode().Perm())
		}
	}
}

func TestLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l1, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(p)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}
