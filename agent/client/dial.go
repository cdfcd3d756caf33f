package client

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// dialTimeout bounds one TCP dial, and the proxy's answer to CONNECT.
const dialTimeout = 10 * time.Second

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
func ParseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy url: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("proxy url %q: want http://[user:password@]host:port", redactURL(u))
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "3128")
	}
	return u, nil
}

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
	if p.Scheme != "http" {
		return nil, fmt.Errorf("proxy %s: only http:// proxies are supported", redactURL(p))
	}
	return dialConnect(network, p, address)
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

// dialConnect asks the HTTP proxy p to open a tunnel to address.
func dialConnect(network string, p *url.URL, address string) (net.Conn, error) {
	proxyAddr := p.Host
	if p.Port() == "" {
		proxyAddr = net.JoinHostPort(p.Hostname(), "3128")
	}
	conn, err := (&net.Dialer{Timeout: dialTimeout}).Dial(network, proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("dial proxy %s: %w", redactURL(p), err)
	}
	if err := conn.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", redactURL(p), err)
	}
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: address},
		Host:   address,
		Header: http.Header{},
	}
	if p.User != nil {
		pass, _ := p.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(p.User.Username() + ":" + pass))
		req.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: send CONNECT %s: %w", redactURL(p), address, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: read answer to CONNECT %s: %w", redactURL(p), address, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT %s: %w: %s", redactURL(p), address, errProxyRefused, resp.Status)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", redactURL(p), err)
	}
	// The hub speaks first (NATS INFO): what the reader already buffered
	// belongs to the tunnel.
	return &bufferedConn{Conn: conn, r: br}, nil
}

var errProxyRefused = errors.New("refused")

// bufferedConn reads what the proxy's answer left in the buffer first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// redactURL hides a proxy password.
func redactURL(u *url.URL) string {
	s := u.Redacted()
	return strings.TrimSuffix(s, "/")
}
