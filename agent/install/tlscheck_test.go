package install

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/tlstest"
)

// checkFixture has an older certificate installed and served by srv, and
// a newer one (f.v) to install with the check on.
func checkFixture(t *testing.T) (*fixture, *tlstest.Server, string) {
	t.Helper()
	f := newFixture(t, "0")
	oldKey, oldV := issued(t)
	plain := f.target
	plain.Reload = Reload{}
	if err := Install(context.Background(), plain, oldV, oldKey, nil); err != nil {
		t.Fatal(err)
	}
	srv := tlstest.Start(t, f.target.Cert, f.target.Key)
	if got := srv.Served(t, names[0]); got != oldV.Serial() {
		t.Fatalf("server presents %s before the install, want the old %s", got, oldV.Serial())
	}
	f.target.Check = TLSCheck{Addr: srv.Addr, ServerName: names[0], Timeout: 5 * time.Second}
	return f, srv, oldV.Serial()
}

func TestInstallTLSCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		// service changes how the server behaves after the install.
		service func(srv *tlstest.Server)
		// minHandshakes the check must have made, beyond the priming one.
		minHandshakes int
	}{
		{"service reloads at once", func(*tlstest.Server) {}, 1},
		{"service takes a few tries to reload", func(srv *tlstest.Server) { srv.Lag(3) }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv, _ := checkFixture(t)
			tc.service(srv)
			if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
				t.Fatalf("install with check: %v", err)
			}
			if got := srv.Served(t, names[0]); got != f.v.Serial() {
				t.Errorf("server presents %s, want the new %s", got, f.v.Serial())
			}
			if n := srv.Handshakes() - 2; n < tc.minHandshakes {
				t.Errorf("check made %d handshakes, want at least %d", n, tc.minHandshakes)
			}
			for _, sn := range srv.ServerNames() {
				if sn != names[0] {
					t.Errorf("check asked for server name %q, want %q", sn, names[0])
				}
			}
			if r := f.reloads(t); !slices.Equal(r, []string{"reload:web"}) {
				t.Errorf("reloads %v, want one", r)
			}
		})
	}
}

func TestInstallTLSCheckFailureRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		service func(t *testing.T, f *fixture, srv *tlstest.Server)
		want    string // in the error
		// stop ends the install's context (the agent stopping) when the
		// check's second handshake starts, long before its timeout.
		stop bool
	}{
		{
			name:    "service ignores the reload",
			service: func(_ *testing.T, _ *fixture, srv *tlstest.Server) { srv.Freeze() },
			want:    "not the new",
		},
		{
			name: "nothing listens",
			service: func(t *testing.T, f *fixture, _ *tlstest.Server) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				f.target.Check.Addr = ln.Addr().String()
				ln.Close()
			},
			want: "refused",
		},
		{
			name: "agent stops during the check",
			service: func(_ *testing.T, f *fixture, srv *tlstest.Server) {
				srv.Freeze()
				f.target.Check.Timeout = time.Minute
			},
			want: "not the new",
			stop: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv, oldSerial := checkFixture(t)
			f.target.Check.Timeout = time.Second
			tc.service(t, f, srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.stop {
				base := srv.Handshakes()
				srv.OnHandshake(func(n int) {
					if n == base+2 {
						cancel()
					}
				})
			}
			before := f.files(t)
			start := time.Now()
			err := Install(ctx, f.target, f.v, f.key, nil)
			if !errors.Is(err, ErrCheck) || errors.Is(err, ErrReload) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), f.target.Check.Addr) {
				t.Fatalf("error %v, want ErrCheck naming the address and saying %q", err, tc.want)
			}
			if d := time.Since(start); (!tc.stop && d < time.Second) || d > 10*time.Second {
				t.Errorf("check gave up after %s, want after its 1s timeout or the stop", d)
			}
			if after := f.files(t); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Error("previous files not restored after the failed check")
			}
			if r := f.reloads(t); !slices.Equal(r, []string{"reload:web", "rollback:web"}) {
				t.Errorf("reloads %v, want the install's and the rollback's", r)
			}
			inst, err := ReadInstalled(f.target)
			if err != nil || SerialHex(inst.Leaf) != oldSerial {
				t.Errorf("installed after rollback: %v %v, want serial %s", inst, err, oldSerial)
			}
		})
	}
}

func TestTLSCheckStopsWithContext(t *testing.T) {
	f, srv, _ := checkFixture(t)
	srv.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := TLSCheck{Addr: srv.Addr, ServerName: names[0], Timeout: time.Minute}.Wait(ctx, f.v.Leaf)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("check with an ending context: %v after %s", err, time.Since(start))
	}
}
