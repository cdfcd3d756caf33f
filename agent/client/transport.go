package client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// urlGroup is a run of URLs one nats.Conn can use together: nats.go
// refuses to mix WebSocket and plain URLs in one server pool.
type urlGroup struct {
	urls   []string
	ws     bool
	secure bool // every URL is tls:// or wss://
	dialer *dialer
}

// groupURLs splits urls, in order of preference, into runs of the same
// kind (WebSocket or not), keeping the order.
func groupURLs(urls []string) ([]*urlGroup, error) {
	var groups []*urlGroup
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("server url %q: want scheme://host:port", raw)
		}
		var ws, secure bool
		switch strings.ToLower(u.Scheme) {
		case "tls":
			secure = true
		case "nats":
		case "wss":
			ws, secure = true, true
		case "ws":
			ws = true
		default:
			return nil, fmt.Errorf("server url %q: scheme %q, want tls, wss, nats or ws", raw, u.Scheme)
		}
		if n := len(groups); n > 0 && groups[n-1].ws == ws {
			g := groups[n-1]
			g.urls = append(g.urls, raw)
			g.secure = g.secure && secure
			continue
		}
		groups = append(groups, &urlGroup{urls: []string{raw}, ws: ws, secure: secure})
	}
	return groups, nil
}

// supervise keeps the agent connected: it tries the URL groups in order
// of preference; a connection keeps reconnecting on its own URLs a few
// times, and once it gives up the walk starts over at the first group.
// After a round where nothing answered it waits with jittered, growing
// back-off (up to a minute), so a fleet cut off for days does not storm
// its hub when the path comes back, yet reconnects within a minute.
func (c *Client) supervise(groups []*urlGroup) {
	defer close(c.done)
	failedRounds := 0
	for {
		connected := false
		for _, g := range groups {
			if c.isClosed() {
				return
			}
			closed := make(chan struct{})
			nc, err := c.dial(g, closed)
			if errors.Is(err, errClosed) {
				return
			}
			if err != nil {
				c.logger.Warn("cannot reach hub", "urls", strings.Join(g.urls, ","), "via", viaOrDirect(g.dialer.via()), "err", err)
				continue
			}
			connected = true
			failedRounds = 0
			select {
			case <-closed:
				c.setConn(nil, "")
				c.failPending(errConnectionChanged)
				c.logger.Warn("lost the hub on this path; trying every path again in order", "urls", strings.Join(g.urls, ","))
			case <-c.closed:
				c.setConn(nil, "")
				nc.Close()
				return
			}
			break
		}
		if connected {
			continue
		}
		failedRounds++
		select {
		case <-time.After(reconnectDelay(failedRounds)):
		case <-c.closed:
			return
		}
	}
}

// dial connects to the URLs of g, subscribes to the agent's down
// subjects and makes the connection the live one.
func (c *Client) dial(g *urlGroup, closed chan struct{}) (*nats.Conn, error) {
	nc, err := nats.Connect(strings.Join(g.urls, ","), c.natsOptions(g, closed)...)
	if err != nil {
		return nil, err
	}
	if c.isClosed() {
		// Close gave up waiting while this dial was under way.
		nc.Close()
		return nil, errClosed
	}
	// Live before subscribing, so an answer to the hub's first message
	// finds the connection; the subscription still goes out first.
	c.setTransport(nc, g)
	h := c.opts.Handler
	_, err = nc.Subscribe(shared.Down(c.id, "*"), func(m *nats.Msg) { c.dispatch(h, m) })
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		c.setConn(nil, "")
		nc.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	c.logger.Info("connected to hub", "transport", c.Transport())
	if c.opts.OnConnect != nil {
		c.opts.OnConnect()
	}
	return nc, nil
}

// setTransport makes nc the live connection and records its path.
func (c *Client) setTransport(nc *nats.Conn, g *urlGroup) {
	t := nc.ConnectedUrlRedacted()
	if via := g.dialer.via(); via != "" {
		t += " via proxy " + via
	}
	c.setConn(nc, t)
}

func (c *Client) setConn(nc *nats.Conn, transport string) {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	c.nc, c.transport = nc, transport
}

// conn returns the live connection, nil while none is up.
func (c *Client) conn() *nats.Conn {
	c.connMu.RLock()
	defer c.connMu.RUnlock()
	return c.nc
}

// Transport says which path the client uses to reach the hub, e.g.
// "tls://hub.example.org:4222 via proxy http://proxy:3128"; "" while it
// is not connected.
func (c *Client) Transport() string {
	c.connMu.RLock()
	defer c.connMu.RUnlock()
	if c.nc == nil || !c.nc.IsConnected() {
		return ""
	}
	return c.transport
}

// errClosed ends a dial that finished after Close.
var errClosed = errors.New("client closed")

// errNotConnected fails a publish while no path to the hub works.
var errNotConnected = errors.New("not connected to the hub")

func (c *Client) publish(m *nats.Msg) error {
	nc := c.conn()
	if nc == nil {
		return errNotConnected
	}
	return nc.PublishMsg(m)
}

func (c *Client) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func viaOrDirect(via string) string {
	if via == "" {
		return "direct"
	}
	return via
}
