package service

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHubID(t *testing.T) {
	dir := t.TempDir()
	first, err := loadHubID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !hubIDRe.MatchString(first) {
		t.Fatalf("hub id %q is not a valid id", first)
	}
	again, err := loadHubID(dir)
	if err != nil || again != first {
		t.Fatalf("hub id after restart = %q, %v; want the same %q", again, err, first)
	}
	if other, err := loadHubID(t.TempDir()); err != nil || other == first {
		t.Fatalf("another data dir's hub id = %q, %v; want another id", other, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, hubIDFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("hub id file: %v, %v", fi, err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, hubIDFile), []byte("Not An Id!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHubID(bad); err == nil {
		t.Fatal("a damaged hub id file accepted")
	}
}
