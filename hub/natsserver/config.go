package natsserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/certfleet/certfleet/hub/natsauth"
)

// Config configures the embedded server.
type Config struct {
	// Listen is the client address, "host:port"; port 0 or -1 picks a free
	// port (tests).
	Listen string
	// WebsocketListen, when set, also serves NATS over WebSocket at this
	// "host:port" (port 0 or -1 picks a free port), for agents that can
	// only reach HTTPS on 443. Same TLS configuration and JWT auth as the
	// client port: wss:// only unless AllowPlaintext (tests).
	WebsocketListen string
	// StoreDir is the JetStream store (created 0700).
	StoreDir string
	// TLS is the client port's server configuration; nil only with
	// AllowPlaintext.
	TLS *tls.Config
	// AllowPlaintext lets clients connect without TLS: with TLS nil the
	// port is plain only, with TLS set TLS becomes optional. For tests.
	AllowPlaintext bool
	// Auth supplies operator-mode JWT auth; nil means no auth at all (for
	// tests of other packages only).
	Auth *natsauth.Authority
	// ServerName names the server (default: its generated id).
	ServerName string
	// SyncAlways makes JetStream fsync every write. A single-node hub that
	// must not lose acknowledged writes in a power cut wants it; the
	// server's default is to sync every two minutes.
	SyncAlways bool
	// ReadyTimeout bounds the wait for the server, JetStream recovery
	// included, to accept connections (default 2 minutes).
	ReadyTimeout time.Duration
	// DeferClients keeps the client port closed until AcceptClients: the
	// in-process connections of the hub work at once, while agents wait
	// until the hub has opened its store and subscribed. Otherwise, after
	// a restart, thousands of reconnecting agents find a server whose
	// hub is not listening yet (their hellos go unanswered until their
	// request timeout) and take the CPU the hub's start needs. The
	// WebSocket port, when on, opens at once regardless.
	DeferClients bool
}

const defaultReadyTimeout = 2 * time.Minute

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	if _, _, err := parseListen(c.Listen); err != nil {
		return err
	}
	if c.WebsocketListen != "" {
		if _, _, err := parseListenField("nats.websocket_listen", c.WebsocketListen); err != nil {
			return err
		}
	}
	if c.StoreDir == "" {
		return errors.New("nats.store_dir: empty")
	}
	if c.TLS == nil && !c.AllowPlaintext {
		return errors.New("nats.tls: no TLS configuration, and plaintext is not allowed")
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil {
		return errors.New("nats.tls: no server certificate")
	}
	if c.ReadyTimeout < 0 {
		return fmt.Errorf("nats.ready_timeout: %s is negative", c.ReadyTimeout)
	}
	return nil
}

// parseListen splits "host:port" into the server's Host and Port, mapping
// port 0 to the server's "pick one" value (-1; its 0 means 4222).
func parseListen(listen string) (string, int, error) {
	return parseListenField("nats.listen", listen)
}

// parseListenField is parseListen for the config field named field.
func parseListenField(field, listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %q: %w", field, listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %q: port %q is not a number", field, listen, portStr)
	}
	switch {
	case port == 0 || port == -1:
		port = -1
	case port < 1 || port > 65535:
		return "", 0, fmt.Errorf("%s: %q: port %d out of range", field, listen, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHost(host) {
		return "", 0, fmt.Errorf("%s: %q: host %q is not an IP address or host name", field, listen, host)
	}
	return host, port, nil
}

func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
