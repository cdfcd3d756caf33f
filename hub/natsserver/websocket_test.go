package natsserver

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// TestWebsocketSameAuth: the wss port serves the same accounts as the
// client port: an agent's JWT works there with the agent's rights only,
// and a connection without credentials is refused.
func TestWebsocketSameAuth(t *testing.T) {
	env := startAuthServer(t, func(c *Config) { c.WebsocketListen = "127.0.0.1:0" })
	ws := env.srv.WebsocketURL()
	if !strings.HasPrefix(ws, "wss://127.0.0.1:") {
		t.Fatalf("WebsocketURL = %q, want wss://127.0.0.1:<port>", ws)
	}
	hub := env.hub(t)
	sub, err := hub.SubscribeSync("agent.*.up.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}

	rec := &errRecorder{}
	a, err := nats.Connect(ws, nats.UserCredentials(env.agentCreds(t, "a", time.Hour)), env.tlsOption(),
		nats.ErrorHandler(rec.handler), nats.NoReconnect(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("agent over wss: %v", err)
	}
	defer a.Close()
	for _, subj := range []string{shared.Up("b", shared.VerbHello), shared.Up("a", "sentinel")} {
		if err := a.Publish(subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != shared.Up("a", "sentinel") {
		t.Fatalf("hub got %q first from agent a over wss", m.Subject)
	}
	rec.waitFor(t, "permissions violation for publish to \"agent.b.up.hello\"")

	if nc, err := nats.Connect(ws, env.tlsOption(), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("connection over wss without credentials was accepted")
	}
}

func TestWebsocketListenValidated(t *testing.T) {
	c := Config{Listen: "127.0.0.1:0", StoreDir: "/x", AllowPlaintext: true, WebsocketListen: "127.0.0.1"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "nats.websocket_listen") {
		t.Fatalf("Validate = %v, want an error naming nats.websocket_listen", err)
	}
}
