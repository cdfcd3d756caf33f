//go:build !windows

package install

import (
	"context"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"testing"

	"github.com/certfleet/certfleet/agent/internal/fsutil"
)

func TestInstallOwner(t *testing.T) {
	if !fsutil.OwnershipSupported {
		t.Skip("ownership not applied on this platform")
	}
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	f := newFixture(t, "")
	f.target.Owner = fsutil.Owner{User: "no-such-user-certfleet"}
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err == nil {
		t.Fatal("unknown owner accepted")
	}
	if got := f.files(t); len(got) != 0 {
		t.Fatal("files written for an unknown owner")
	}
	f.target.Owner = fsutil.Owner{User: u.Uid, Group: u.Gid}
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(f.target.Key)
	st := fi.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(st.Uid)) != u.Uid || strconv.Itoa(int(st.Gid)) != u.Gid {
		t.Errorf("owner %d:%d, want %s:%s", st.Uid, st.Gid, u.Uid, u.Gid)
	}
}
