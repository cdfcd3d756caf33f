package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// tlsTimeout bounds a client's TLS handshake, its wait for a handshake
// slot included (see handshakeGate).
const tlsTimeout = 5 * time.Second

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
	// url is set once the client port listens (later with DeferClients).
	url    atomic.Pointer[string]
	wsURL  string
	logger *slog.Logger
	once   sync.Once

	// With Config.DeferClients: the client port opens in AcceptClients.
	la         *logAdapter
	host       string
	tls        bool
	deferred   bool
	acceptOnce sync.Once
	acceptErr  error
}

// Start starts the server and returns once it accepts connections, or
// with the reason it could not start.
func Start(cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	opts, err := options(cfg)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("start nats server: create store: %w", err)
	}
	if cfg.DeferClients && opts.Port > 0 {
		// The port is taken only later: say now if it cannot be.
		ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
		if err != nil {
			return nil, fmt.Errorf("start nats server: listen %s: %w", cfg.Listen, err)
		}
		_ = ln.Close()
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	la := newLogAdapter(logger)
	ns.SetLoggerV2(la, la.debugEnabled(), false, false)

	began := time.Now()
	go ns.Start()
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = defaultReadyTimeout
	}
	if err := waitReady(ns, la.fatal, timeout); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	s := &Server{ns: ns, logger: logger, la: la, host: opts.Host, tls: cfg.TLS != nil, deferred: cfg.DeferClients}
	if !s.deferred {
		s.setURL(clientURL(ns.Addr(), opts.Host, s.tls))
	}
	if cfg.WebsocketListen != "" {
		s.wsURL = websocketURL(ns, opts.Websocket.Host, cfg.TLS != nil)
	}
	logger.Info("nats server ready", "url", s.ClientURL(), "websocket", s.wsURL, "jetstream", opts.StoreDir,
		"auth", cfg.Auth != nil, "tls", cfg.TLS != nil, "sync_always", cfg.SyncAlways, "clients_deferred", s.deferred,
		"took", time.Since(began).Round(time.Millisecond))
	return s, nil
}

// AcceptClients opens the client port of a server started with
// DeferClients and returns once it listens (at once otherwise, and on
// later calls).
func (s *Server) AcceptClients() error {
	if !s.deferred {
		return nil
	}
	s.acceptOnce.Do(func() {
		listening := make(chan struct{})
		// AcceptLoop closes listening once the port listens, or when it
		// gave up (reported through Fatalf).
		go s.ns.AcceptLoop(listening)
		<-listening
		addr := s.ns.Addr()
		if addr == nil {
			msg := "the client port did not open"
			select {
			case msg = <-s.la.fatal:
			default:
			}
			s.acceptErr = fmt.Errorf("open nats client port: %s", msg)
			return
		}
		s.setURL(clientURL(addr, s.host, s.tls))
		s.logger.Info("nats client port open", "url", s.ClientURL())
	})
	return s.acceptErr
}

func options(cfg Config) (*server.Options, error) {
	host, port, err := parseListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:             cfg.ServerName,
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               cfg.StoreDir,
		SyncAlways:             cfg.SyncAlways,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		// The client port opens in AcceptClients.
		DontListen: cfg.DeferClients,
	}
	if cfg.TLS != nil {
		opts.TLS = true
		opts.TLSTimeout = tlsTimeout.Seconds()
		opts.TLSConfig = defaultHandshakeGate(tlsTimeout).config(cfg.TLS)
		opts.AllowNonTLS = cfg.AllowPlaintext
	}
	if cfg.WebsocketListen != "" {
		wsHost, wsPort, err := parseListenField("nats.websocket_listen", cfg.WebsocketListen)
		if err != nil {
			return nil, err
		}
		// Authentication is the server's: operator-mode JWTs, as on the
		// client port. No NoAuthUser, no token, no cookies.
		opts.Websocket = server.WebsocketOpts{Host: wsHost, Port: wsPort, HandshakeTimeout: 5 * time.Second}
		if cfg.TLS != nil {
			opts.Websocket.TLSConfig = cfg.TLS.Clone()
		} else {
			opts.Websocket.NoTLS = true
		}
	}
	if cfg.Auth != nil {
		if err := cfg.Auth.ConfigureServer(opts); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// waitReady polls the server until it listens, it reports a fatal error,
// or timeout passes.
func waitReady(ns *server.Server, fatal <-chan string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case msg := <-fatal:
			return errors.New(msg)
		default:
		}
		if ns.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready for connections after %s", timeout)
		}
	}
}

// clientURL is the URL a local client uses: a wildcard listen address is
// reached over loopback (IPv6 only when the configured host was IPv6).
func clientURL(addr net.Addr, host string, tls bool) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if h := net.ParseIP(host); h != nil && h.To4() == nil {
			ip = net.IPv6loopback
		}
	}
	u := url.URL{Scheme: "nats", Host: net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))}
	if tls {
		u.Scheme = "tls"
	}
	return u.String()
}

// websocketURL is the URL a local client reaches the WebSocket port at.
func websocketURL(ns *server.Server, host string, tls bool) string {
	ports := ns.PortsInfo(5 * time.Second)
	if ports == nil || len(ports.WebSocket) == 0 {
		return ""
	}
	u, err := url.Parse(ports.WebSocket[0])
	if err != nil {
		return ""
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return ""
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil {
		ip = net.ParseIP(host)
	}
	if ip == nil {
		ip = net.IPv4zero
	}
	v := clientURL(&net.TCPAddr{IP: ip, Port: port}, host, tls)
	if tls {
		return "wss" + strings.TrimPrefix(v, "tls")
	}
	return "ws" + strings.TrimPrefix(v, "nats")
}

// WebsocketURL returns the URL local clients reach the WebSocket port at
// (wss:// when TLS is on), or "" when it is off.
func (s *Server) WebsocketURL() string { return s.wsURL }

// ClientURL returns the URL local clients connect to, tls:// when TLS is
// on; "" while a deferred client port is still closed.
func (s *Server) ClientURL() string {
	if u := s.url.Load(); u != nil {
		return *u
	}
	return ""
}

func (s *Server) setURL(u string) { s.url.Store(&u) }

// Server returns the underlying server (for in-process connections and
// monitoring).
func (s *Server) Server() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped; JetStream
// state is flushed. Safe to call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.logger.Info("nats server stopped")
	})
}
