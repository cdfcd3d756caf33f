package service

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/natsserver"
)

// TestAdvertiseURLs: without nats.advertise, enrollments list the client
// port, then the WebSocket port when it is on; configured URLs win.
func TestAdvertiseURLs(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:0", WebsocketListen: "127.0.0.1:0",
		StoreDir: t.TempDir(), AllowPlaintext: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	h := &Hub{cfg: config.DefaultConfig(), ns: srv}
	got := h.advertiseURLs()
	if len(got) != 2 || got[0] != srv.ClientURL() || !strings.HasPrefix(got[1], "ws://127.0.0.1:") || got[1] != srv.WebsocketURL() {
		t.Fatalf("advertiseURLs = %v, want [%s %s]", got, srv.ClientURL(), srv.WebsocketURL())
	}
	want := []string{"tls://hub.example.org:4222", "wss://hub.example.org:443"}
	h.cfg.NATS.Advertise = want
	if got := h.advertiseURLs(); !slices.Equal(got, want) {
		t.Fatalf("advertiseURLs = %v, want the configured %v", got, want)
	}
}
