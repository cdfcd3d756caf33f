// Package relay is `certfleet-hub relay`: a site's one machine at the
// edge that agents inside the site connect to instead of the hub. It
// forwards each TCP connection, byte for byte, to the hub's NATS port
// (tls:// or wss://), directly or through an HTTP CONNECT proxy.
//
// The relay is deliberately layer 4. It holds no NATS credentials, no
// key and no certificate: TLS and NATS authentication run end to end
// between each agent and the hub, so the agent checks the hub's
// certificate (by the hub's name, hub.tls_server_name in the agent's
// config) and the hub checks each agent's own JWT, revocations included.
// A compromised relay can drop, delay or count connections; it cannot
// read or alter agent traffic, impersonate the hub or any agent, or
// reach anything but the one address it forwards to. A NATS leafnode
// would instead need a user in the agents' account able to publish for
// every agent of the site, and would authenticate agents locally, out of
// reach of the revocations the hub pushes.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certfleet/certfleet/internal/connectproxy"
)

// Defaults.
const (
	DefaultMaxConns    = 10000
	DefaultDialTimeout = 10 * time.Second

	// closeGrace is how long the other direction may run once one side
	// of a relayed connection has ended.
	closeGrace = 30 * time.Second
)

// Config configures a relay.
type Config struct {
	// Listen is where agents connect, "host:port".
	Listen string
	// To is the hub's NATS address agents would otherwise dial,
	// "hub.example.org:4222" (or the WebSocket port, "hub.example.org:443").
	To string
	// Proxy, when set, is an HTTP proxy the relay reaches To through
	// ("http://user:password@proxy:3128").
	Proxy string
	// MaxConns bounds the connections relayed at once (default 10000);
	// more are closed at once, so a flood cannot exhaust the relay's files.
	MaxConns int
	// DialTimeout bounds reaching the hub (default 10 s).
	DialTimeout time.Duration
}

// Validate checks the configuration; errors name the flag.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port: %w", c.Listen, err)
	}
	host, port, err := net.SplitHostPort(c.To)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("--to %q: want the hub's host:port, e.g. hub.example.org:4222", c.To)
	}
	if c.Proxy != "" {
		if _, err := connectproxy.ParseURL(c.Proxy); err != nil {
			return fmt.Errorf("--proxy: %w", err)
		}
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("--max-conns %d: want 0 (default) or more", c.MaxConns)
	}
	return nil
}

// Relay forwards connections from Listen to To.
type Relay struct {
	cfg    Config
	proxy  *url.URL
	ln     net.Listener
	log    *slog.Logger
	slots  chan struct{}
	wg     sync.WaitGroup
	active atomic.Int64
	total  atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen validates cfg and opens the listening socket.
func Listen(cfg Config, logger *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if logger == nil {
		logger = slog.Default()
	}
	r := &Relay{cfg: cfg, log: logger, slots: make(chan struct{}, cfg.MaxConns), conns: map[net.Conn]struct{}{}}
	if cfg.Proxy != "" {
		r.proxy, _ = connectproxy.ParseURL(cfg.Proxy)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("relay: listen on %s: %w", cfg.Listen, err)
	}
	r.ln = ln
	return r, nil
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() net.Addr { return r.ln.Addr() }

// Serve relays connections until ctx is cancelled, then closes every
// relayed connection and returns nil.
func (r *Relay) Serve(ctx context.Context) error {
	via := "direct"
	if r.proxy != nil {
		via = connectproxy.Redact(r.proxy)
	}
	r.log.Info("relay ready", "listen", r.ln.Addr().String(), "to", r.cfg.To, "via", via, "max_conns", r.cfg.MaxConns)
	stop := context.AfterFunc(ctx, func() { r.ln.Close() })
	defer stop()
	var tempDelay time.Duration
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of files and the like: back off instead of spinning.
			tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
			r.log.Warn("relay: accept", "err", err, "retry_in", tempDelay)
			time.Sleep(tempDelay)
			continue
		}
		tempDelay = 0
		select {
		case r.slots <- struct{}{}:
		default:
			r.log.Warn("relay: connection limit reached; closing a new connection", "from", c.RemoteAddr().String(), "max_conns", r.cfg.MaxConns)
			c.Close()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-r.slots }()
			r.relay(c)
		}()
	}
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.log.Info("relay stopped", "relayed", r.total.Load())
	return nil
}

// Active is the number of connections relayed now.
func (r *Relay) Active() int64 { return r.active.Load() }

func (r *Relay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = struct{}{}
	} else {
		delete(r.conns, c)
	}
}

// relay joins one agent connection to a new connection to the hub.
func (r *Relay) relay(agent net.Conn) {
	r.track(agent, true)
	defer r.track(agent, false)
	defer agent.Close()
	from := agent.RemoteAddr().String()
	hub, err := r.dial()
	if err != nil {
		r.log.Warn("relay: cannot reach the hub", "to", r.cfg.To, "from", from, "err", err)
		return
	}
	r.track(hub, true)
	defer r.track(hub, false)
	defer hub.Close()
	r.active.Add(1)
	r.total.Add(1)
	defer r.active.Add(-1)
	began := time.Now()
	r.log.Debug("relay: connection open", "from", from)

	done := make(chan struct{}, 2)
	go func() { pipe(hub, agent); done <- struct{}{} }()
	go func() { pipe(agent, hub); done <- struct{}{} }()
	<-done
	// One side ended: give the other a moment to finish, not forever (a
	// peer that half-closed and vanished must not hold a slot).
	deadline := time.Now().Add(closeGrace)
	_ = agent.SetDeadline(deadline)
	_ = hub.SetDeadline(deadline)
	<-done
	r.log.Debug("relay: connection closed", "from", from, "lasted", time.Since(began).Round(time.Millisecond))
}

func (r *Relay) dial() (net.Conn, error) {
	if r.proxy != nil {
		return connectproxy.Dial("tcp", r.proxy, r.cfg.To, r.cfg.DialTimeout)
	}
	return (&net.Dialer{Timeout: r.cfg.DialTimeout, KeepAlive: 30 * time.Second}).Dial("tcp", r.cfg.To)
}

// pipe copies src to dst, then half-closes dst so the far side sees the
// end of the stream (a full close when dst cannot half-close).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	dst.Close()
}
