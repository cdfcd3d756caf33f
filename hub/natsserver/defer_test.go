package natsserver

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// freeLoopbackPort returns a TCP port free on 127.0.0.1 right now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// With DeferClients the hub's in-process connection works at once while
// the client port stays closed until AcceptClients.
func TestDeferClients(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeLoopbackPort(t)))
	srv, err := Start(Config{Listen: addr, StoreDir: t.TempDir(), AllowPlaintext: true, DeferClients: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if u := srv.ClientURL(); u != "" {
		t.Fatalf("ClientURL before AcceptClients = %q, want empty", u)
	}
	inproc, err := nats.Connect("", nats.InProcessServer(srv.Server()))
	if err != nil {
		t.Fatalf("in-process connection before AcceptClients: %v", err)
	}
	inproc.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the client port accepted a connection before AcceptClients")
	}
	if err := srv.AcceptClients(); err != nil {
		t.Fatal(err)
	}
	if err := srv.AcceptClients(); err != nil {
		t.Fatalf("second AcceptClients: %v", err)
	}
	if u := srv.ClientURL(); u != "nats://"+addr {
		t.Fatalf("ClientURL = %q, want nats://%s", u, addr)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect after AcceptClients: %v", err)
	}
	nc.Close()
}

func TestDeferClientsReportsPortInUse(t *testing.T) {
	tests := []struct {
		name string
		// taken is when the port gets taken: before Start, or between
		// Start and AcceptClients.
		takenBeforeStart bool
	}{
		{"taken before start", true},
		{"taken before accept", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeLoopbackPort(t)))
			take := func() {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			}
			if tt.takenBeforeStart {
				take()
			}
			srv, err := Start(Config{Listen: addr, StoreDir: t.TempDir(), AllowPlaintext: true, DeferClients: true}, quietLogger())
			if tt.takenBeforeStart {
				if err == nil {
					srv.Shutdown()
					t.Fatal("Start on a port in use succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			take()
			err = srv.AcceptClients()
			if err == nil || !strings.Contains(err.Error(), "listen") {
				t.Fatalf("AcceptClients on a port in use = %v, want a listen error", err)
			}
		})
	}
}
