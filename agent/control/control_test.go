package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

type fakeHandler struct {
	started chan string
	release chan struct{}
	ctxErr  chan error
}

func (h *fakeHandler) Renew(ctx context.Context, cert string) ([]Outcome, error) {
	h.started <- cert
	if cert == "bad" {
		return []Outcome{{Cert: "bad", Status: "failed", Error: "boom"}}, errors.New("renewal failed for [bad]")
	}
	select {
	case <-h.release:
		return []Outcome{{Cert: cert, Status: "issued", Serial: "01"}}, nil
	case <-ctx.Done():
		h.ctxErr <- ctx.Err()
		return nil, ctx.Err()
	}
}

func socketPath(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "cfc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "control.sock")
}

func serve(t *testing.T) (string, *fakeHandler) {
	t.Helper()
	p := socketPath(t)
	// A stale socket file from a crashed agent is replaced.
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &fakeHandler{started: make(chan string, 4), release: make(chan struct{}), ctxErr: make(chan error, 4)}
	s, err := Listen(p, h, nil)
	if errors.Is(err, errors.ErrUnsupported) {
		// No AF_UNIX here (wine, Windows before 1803).
		t.Skipf("unix sockets unsupported: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return p, h
}

func TestRenewRoundTrip(t *testing.T) {
	p, h := serve(t)
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode %v", fi.Mode().Perm())
		}
	}
	go func() { <-h.started; close(h.release) }()
	outs, err := Renew(context.Background(), p, "web")
	if err != nil || len(outs) != 1 || outs[0].Cert != "web" || outs[0].Serial != "01" {
		t.Fatalf("renew: %+v %v", outs, err)
	}
	outs, err = Renew(context.Background(), p, "bad")
	if err == nil || !strings.Contains(err.Error(), "renewal failed") || len(outs) != 1 || outs[0].Error != "boom" {
		t.Fatalf("failed renew: %+v %v", outs, err)
	}
}

func TestClientGivingUpCancelsHandler(t *testing.T) {
	p, h := serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Renew(ctx, p, "web"); done <- err }()
	<-h.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v", err)
	}
	select {
	case err := <-h.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not cancelled when the client left")
	}
}

func TestNoAgent(t *testing.T) {
	if _, err := Renew(context.Background(), socketPath(t), ""); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("renew without agent: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	p, _ := serve(t)
	for name, line := range map[string]string{
		"not json":   "hello\n",
		"no op":      "{}\n",
		"unknown op": `{"op":"format-disk"}` + "\n",
	} {
		conn, err := net.Dial("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(line))
		buf := make([]byte, 512)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := conn.Read(buf)
		conn.Close()
		if !strings.Contains(string(buf[:n]), `"ok":false`) {
			t.Errorf("%s: answer %q", name, buf[:n])
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(`{"op":"renew","cert":"web"}` + "\n"))
	f.Add([]byte(`{"op":""}`))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadRequest(strings.NewReader(string(data)))
		if err == nil && r.Op == "" {
			t.Fatal("request without op accepted")
		}
	})
}
