// Package client is the agent's side of the certfleet protocol over NATS:
// it connects with the agent's credentials, keeps reconnecting forever,
// makes the hello, certificate request, fetch and status requests, and
// hands well-formed messages from the hub to a Handler. It answers the
// hub's credential renewals itself: it stores the new JWT and reconnects
// with it. Malformed messages from the hub are logged and dropped (and
// answered with an error when the hub asked for an answer).
//
// No NATS reply subject is used in either direction (see package shared):
// a request carries a correlation id and its answer arrives on
// agent.<id>.down.reply; the agent answers the hub on agent.<id>.up.ack.
package client

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// Handler receives the hub's messages, one at a time, on the NATS
// client's callback goroutine. Credential renewals are not passed on:
// the client applies them (see Options.CredsFile).
type Handler interface {
	HandleResult(*shared.CertResult)
	HandleRenew(*shared.RenewCommand)
}

// Options configure Connect.
type Options struct {
	AgentID string
	URLs    []string
	// CredsFile is the NATS credentials file; it is re-read on every
	// reconnect, so rewriting it rotates the JWT. The client rewrites it
	// when the hub sends renewed credentials. Empty connects without
	// credentials (tests), and renewals are refused.
	CredsFile string
	// CAPEM pins the CA of the server's TLS certificate; empty uses the
	// system roots.
	CAPEM   []byte
	Handler Handler
	// ProxyURL, when set, is the HTTP proxy every hub URL is reached
	// through with CONNECT ("http://user:pass@proxy:3128"); empty uses
	// HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment.
	ProxyURL string
	// TLSServerName, when set, is the name the hub's certificate must
	// carry, whatever host the URL names (a site relay).
	TLSServerName string
	// OnConnect runs after every connect and reconnect.
	OnConnect func()
	Logger    *slog.Logger
	// ReconnectBufSize bounds what is buffered while disconnected
	// (default 64 KiB; the agent retries what does not fit).
	ReconnectBufSize int
}

// Client is a connection to the hub.
type Client struct {
	id        string
	credsFile string
	logger    *slog.Logger
	opts      Options
	tls       *tls.Config // nil: system roots, each URL's host name

	// connMu guards the live connection, nil while none is up, and the
	// path it took.
	connMu    sync.RWMutex
	nc        *nats.Conn
	transport string

	closeOnce sync.Once
	closed    chan struct{} // closed by Close
	done      chan struct{} // closed when the supervisor has stopped

	// pending holds the requests waiting for their answer, by correlation id.
	mu      sync.Mutex
	pending map[string]chan answer

	// spread is the window the hub asked its first reconnect to be spread
	// over (HelloReply.ReconnectSpreadMS), in nanoseconds.
	spread atomic.Int64
}

// answer is the hub's reply to a request, or why none will come.
type answer struct {
	data []byte
	err  error
}

// errConnectionChanged ends the requests in flight when the connection
// was re-established or the server refused a publish: their answers would
// never arrive, so the caller retries now instead of at its deadline.
var errConnectionChanged = errors.New("connection to the hub changed while waiting; retry")

// maxReconnectDelay caps the back-off between reconnect attempts.
const maxReconnectDelay = time.Minute

// reconnectsPerPath is how often a lost connection is retried on the
// same URLs before the client starts over at the most preferred one.
const reconnectsPerPath = 3

// Connect starts the connection. It returns at once even when no server
// is reachable: the client keeps trying in the background, walking the
// URLs in order of preference (see supervise).
func Connect(opts Options) (*Client, error) {
	if err := shared.ValidateAgentID(opts.AgentID); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if len(opts.URLs) == 0 {
		return nil, errors.New("connect: no server urls")
	}
	groups, err := groupURLs(opts.URLs)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	c := &Client{id: opts.AgentID, credsFile: opts.CredsFile, logger: logger, pending: map[string]chan answer{},
		opts: opts, closed: make(chan struct{}), done: make(chan struct{})}
	if len(opts.CAPEM) > 0 || opts.TLSServerName != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: opts.TLSServerName}
		if len(opts.CAPEM) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(opts.CAPEM) {
				return nil, errors.New("connect: enrollment ca holds no PEM certificate")
			}
			tc.RootCAs = pool
		}
		c.tls = tc
	}
	for _, g := range groups {
		d, err := newDialer(opts.ProxyURL, g.secure)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		g.dialer = d
	}
	go c.supervise(groups)
	return c, nil
}

// natsOptions are the options of one connection to the URLs of g.
func (c *Client) natsOptions(g *urlGroup, closed chan<- struct{}) []nats.Option {
	bufSize := c.opts.ReconnectBufSize
	if bufSize == 0 {
		bufSize = 64 << 10
	}
	logger := c.logger
	nopts := []nats.Option{
		nats.Name(c.id),
		// A few reconnects on this path, then the supervisor starts over
		// at the most preferred URL.
		nats.MaxReconnects(reconnectsPerPath),
		nats.CustomReconnectDelay(c.reconnectDelay),
		nats.ReconnectBufSize(bufSize),
		nats.PingInterval(time.Minute),
		nats.MaxPingsOutstanding(3),
		nats.Timeout(connectTimeout),
		nats.DontRandomize(),
		// The dialer (or the proxy) resolves names: behind a proxy the
		// agent may have no DNS for the hub at all.
		nats.SkipHostLookup(),
		nats.SetCustomDialer(g.dialer),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.setTransport(nc, g)
			logger.Info("reconnected to hub", "transport", c.Transport())
			c.failPending(errConnectionChanged)
			if c.opts.OnConnect != nil {
				c.opts.OnConnect()
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("disconnected from hub", "err", err)
			} else {
				logger.Info("disconnected from hub")
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Warn("hub connection error", "err", err)
			if errors.Is(err, nats.ErrPermissionViolation) {
				// A refused publish gets no answer: do not wait for one.
				c.failPending(fmt.Errorf("%w: %v", errConnectionChanged, err))
			}
		}),
	}
	if c.opts.CredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(c.opts.CredsFile))
	}
	if c.tls != nil {
		tc := c.tls
		// Set the TLS config without forcing TLS: tls:// and wss:// URLs
		// force it, and a server that requires TLS gets it either way.
		nopts = append(nopts, func(o *nats.Options) error { o.TLSConfig = tc.Clone(); return nil })
	}
	return nopts
}

// maxReconnectSpread bounds the window a hub may ask for.
const maxReconnectSpread = 5 * time.Minute

// reconnectDelay is the wait before reconnect attempt attempts (from 1) on
// a path: the first within the window the hub asked for, when it asked for
// one, so a fleet the hub lost at once comes back spread out; then the
// usual back-off.
func (c *Client) reconnectDelay(attempts int) time.Duration {
	if w := time.Duration(c.spread.Load()); attempts <= 1 && w > 0 {
		return spreadDelay(w)
	}
	return reconnectDelay(attempts)
}

// spreadDelay is uniform in [minReconnectDelay, w]: the server may be
// back at once, and in a fleet every moment of the window is equally used.
func spreadDelay(w time.Duration) time.Duration {
	w = min(w, maxReconnectSpread)
	if w <= minReconnectDelay {
		return minReconnectDelay
	}
	return minReconnectDelay + rand.N(w-minReconnectDelay)
}

// minReconnectDelay is the shortest wait before reconnecting.
const minReconnectDelay = 500 * time.Millisecond

// reconnectDelay backs off exponentially from 1 s to a minute, with
// jitter so a fleet does not reconnect in step after a hub restart.
func reconnectDelay(attempts int) time.Duration {
	d := time.Second
	for i := 1; i < attempts && d < maxReconnectDelay; i++ {
		d *= 2
	}
	d = min(d, maxReconnectDelay)
	return d/2 + rand.N(d/2+1)
}

// dispatch handles one message from the hub. h may be nil: only
// credential renewals are handled then.
func (c *Client) dispatch(h Handler, m *nats.Msg) {
	if m.Subject == shared.Down(c.id, shared.VerbReply) {
		c.answer(m)
		return
	}
	msg, err := decodeDown(c.id, m.Subject, m.Data)
	if err != nil {
		c.logger.Warn("ignoring malformed message from hub", "subject", m.Subject, "err", err)
		c.respond(m, shared.ErrorBody(err))
		return
	}
	switch v := msg.(type) {
	case *shared.CertResult:
		if h != nil {
			h.HandleResult(v)
		}
	case *shared.RenewCommand:
		if h != nil {
			h.HandleRenew(v)
		}
	case *shared.CredsUpdate:
		c.renewCreds(m, v)
	}
}

// answer hands a reply from the hub to the request waiting for it.
func (c *Client) answer(m *nats.Msg) {
	corr := m.Header.Get(shared.CorrelationHeader)
	c.mu.Lock()
	ch, ok := c.pending[corr]
	delete(c.pending, corr)
	c.mu.Unlock()
	if !ok {
		// A late answer to a request that timed out, or noise.
		c.logger.Debug("reply from hub that no request waits for", "correlation", corr)
		return
	}
	ch <- answer{data: m.Data}
}

// failPending ends every request in flight with err.
func (c *Client) failPending(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for corr, ch := range c.pending {
		ch <- answer{err: err}
		delete(c.pending, corr)
	}
}

// respond answers a hub request that carries a correlation id, on this
// agent's up.ack subject. A message without one asked for no answer.
func (c *Client) respond(m *nats.Msg, data []byte) {
	corr := m.Header.Get(shared.CorrelationHeader)
	if shared.ValidateCorrelation(corr) != nil {
		return
	}
	msg := nats.NewMsg(shared.Up(c.id, shared.VerbAck))
	msg.Header.Set(shared.CorrelationHeader, corr)
	msg.Data = data
	if err := c.publish(msg); err != nil {
		c.logger.Warn("answer hub", "subject", m.Subject, "err", err)
	}
}

// Connected reports whether the connection is up now.
func (c *Client) Connected() bool {
	nc := c.conn()
	return nc != nil && nc.IsConnected()
}

// closeWait bounds how long Close waits for a dial under way (up to
// dialTimeout plus connectTimeout per URL): the supervisor closes what it
// gets afterwards.
const closeWait = 2 * time.Second

// Close closes the connection and stops reconnecting.
func (c *Client) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
	select {
	case <-c.done:
	case <-time.After(closeWait):
		c.logger.Debug("closing while a dial to the hub is under way; it is dropped when it ends")
	}
}

// encode encodes and validates an outgoing message, so the agent never
// sends what the hub would have to reject.
func encode(m shared.Message) ([]byte, error) {
	data, err := shared.Encode(m)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	return data, nil
}

// request sends msg on verb with a fresh correlation id and waits for the
// hub's answer on down.reply, decoding it into reply.
func (c *Client) request(ctx context.Context, verb string, msg, reply shared.Message) error {
	data, err := encode(msg)
	if err != nil {
		return err
	}
	corr := newCorrelation()
	ch := make(chan answer, 1)
	c.mu.Lock()
	c.pending[corr] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, corr)
		c.mu.Unlock()
	}()
	out := nats.NewMsg(shared.Up(c.id, verb))
	out.Header.Set(shared.CorrelationHeader, corr)
	out.Data = data
	if err := c.publish(out); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	select {
	case resp := <-ch:
		if resp.err != nil {
			return fmt.Errorf("%s: %w", verb, resp.err)
		}
		if err := shared.DecodeReply(resp.data, reply); err != nil {
			return fmt.Errorf("%s: %w", verb, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: hub did not answer: %w", verb, ctx.Err())
	}
}

// newCorrelation returns a random correlation id.
func newCorrelation() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hello introduces the agent and returns the hub's answer.
func (c *Client) Hello(ctx context.Context, h *shared.Hello) (*shared.HelloReply, error) {
	var r shared.HelloReply
	if err := c.request(ctx, shared.VerbHello, h, &r); err != nil {
		return nil, err
	}
	if r.ReconnectSpreadMS >= 0 {
		c.spread.Store(int64(min(time.Duration(r.ReconnectSpreadMS)*time.Millisecond, maxReconnectSpread)))
	}
	return &r, nil
}

// PublishCertRequest hands req to the hub and waits until the hub has
// queued it (durably; a repeat of the same request id is queued once).
func (c *Client) PublishCertRequest(ctx context.Context, req *shared.CertRequest) error {
	var ack shared.Ack
	if err := c.request(ctx, shared.VerbCertReq, req, &ack); err != nil {
		return fmt.Errorf("publish certificate request: %w", err)
	}
	return nil
}

// Fetch asks for the result of request id. While the hub is still working
// on it the error is a *shared.Error with CodePending; CodeNotFound when
// the hub does not know it.
func (c *Client) Fetch(ctx context.Context, id string) (*shared.CertResult, error) {
	var r shared.CertResult
	if err := c.request(ctx, shared.VerbFetch, &shared.FetchRequest{RequestID: id}, &r); err != nil {
		return nil, err
	}
	if r.RequestID != id {
		return nil, fmt.Errorf("fetch: hub answered for request %q, not %q", r.RequestID, id)
	}
	return &r, nil
}

// ReportStatus sends the agent's status and waits for the hub's Ack.
func (c *Client) ReportStatus(ctx context.Context, s *shared.StatusReport) error {
	var ack shared.Ack
	return c.request(ctx, shared.VerbStatus, s, &ack)
}
