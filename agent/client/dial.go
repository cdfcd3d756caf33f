package client

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/certfleet/certfleet/internal/connectproxy"
)

// dialTimeout bounds one TCP dial, and the proxy's answer to CONNECT.
const dialTimeout = 10 * time.Second

// connectTimeout bounds the NATS connect once TCP is up: the server's
// INFO, the TLS handshake, CONNECT and the first PONG. Longer than the dial:
// a server that took the connection is there but may be busy (a fleet
// reconnecting at once), and a client that gives up and retries makes the
// server do its setup again.
const connectTimeout = 30 * time.Second

// dialer opens the TCP connections nats.go speaks TLS, WebSocket and NATS
// over: directly, or through an HTTP proxy with CONNECT (nats.go has no
// proxy support of its own). It remembers the proxy of the last dial so
// the client can say which path it uses.
type dialer struct {
	// proxy returns the proxy for a hub URL, nil for a direct dial.
	proxy  func(*url.URL) (*url.URL, error)
	scheme string // "https" for tls:// and wss:// URLs, else "http"

	mu   sync.Mutex
	last *url.URL
}

// newDialer uses proxyURL for every hub address when set ("http://user:pass@host:port"),
// else the standard HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables.
func newDialer(proxyURL string, secure bool) (*dialer, error) {
	d := &dialer{scheme: "http"}
	if secure {
		d.scheme = "https"
	}
	if proxyURL == "" {
		d.proxy = httpproxy.FromEnvironment().ProxyFunc()
		return d, nil
	}
	u, err := ParseProxyURL(proxyURL)
	if err != nil {
		return nil, err
	}
	d.proxy = func(*url.URL) (*url.URL, error) { return u, nil }
	return d, nil
}

// ParseProxyURL checks an HTTP proxy URL: http://[user:pass@]host:port.
func ParseProxyURL(raw string) (*url.URL, error) { return connectproxy.ParseURL(raw) }

// Dial implements nats.CustomDialer.
func (d *dialer) Dial(network, address string) (net.Conn, error) {
	target := &url.URL{Scheme: d.scheme, Host: address}
	p, err := d.proxy(target)
	if err != nil {
		return nil, fmt.Errorf("choose proxy for %s: %w", address, err)
	}
	d.mu.Lock()
	d.last = p
	d.mu.Unlock()
	if p == nil {
		return (&net.Dialer{Timeout: dialTimeout}).Dial(network, address)
	}
	return connectproxy.Dial(network, p, address, dialTimeout)
}

// via returns the proxy of the last dial, redacted, or "".
func (d *dialer) via() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		return ""
	}
	return redactURL(d.last)
}

// redactURL hides a proxy password.
func redactURL(u *url.URL) string { return connectproxy.Redact(u) }
