// Package connectproxy opens TCP tunnels through an HTTP proxy with
// CONNECT (RFC 9110 §9.3.6), with optional Basic proxy authentication:
// how agents and site relays reach the hub from networks whose only way
// out is a web proxy. What goes through the tunnel (TLS to the hub) is
// end to end; the proxy sees only the target host and port.
package connectproxy

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultPort is the port of a proxy URL that names none.
const DefaultPort = "3128"

// ErrRefused wraps a proxy's non-2xx answer to CONNECT.
var ErrRefused = errors.New("proxy refused the tunnel")

// ParseURL checks an HTTP proxy URL, http://[user:password@]host[:port],
// and fills in the default port. Errors never show the password.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("proxy url: not a URL; want http://[user:password@]host:port")
	}
	// The URL itself is never echoed: a malformed one may carry its
	// password where Redact does not look.
	switch {
	case u.Scheme != "http":
		return nil, fmt.Errorf("proxy url: scheme %q; want http://[user:password@]host:port", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return nil, errors.New("proxy url: no host; want http://[user:password@]host:port")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("proxy url: has a path, query or fragment; want http://[user:password@]host:port")
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), DefaultPort)
	}
	u.Path = ""
	return u, nil
}

// Redact returns u with its password hidden.
func Redact(u *url.URL) string {
	return strings.TrimSuffix(u.Redacted(), "/")
}

// Dial opens a tunnel to address ("host:port") through the HTTP proxy p.
// timeout bounds the dial to the proxy and its answer together.
func Dial(network string, p *url.URL, address string, timeout time.Duration) (net.Conn, error) {
	if p.Scheme != "http" {
		return nil, fmt.Errorf("proxy %s: only http:// proxies are supported", Redact(p))
	}
	proxyAddr := p.Host
	if p.Port() == "" {
		proxyAddr = net.JoinHostPort(p.Hostname(), DefaultPort)
	}
	deadline := time.Now().Add(timeout)
	conn, err := (&net.Dialer{Deadline: deadline}).Dial(network, proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("dial proxy %s: %w", Redact(p), err)
	}
	tunnel, err := connect(conn, p, address, deadline)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT %s: %w", Redact(p), address, err)
	}
	return tunnel, nil
}

func connect(conn net.Conn, p *url.URL, address string, deadline time.Time) (net.Conn, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("send request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%w: %s", ErrRefused, resp.Status)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	// The far end may speak first (a NATS server sends INFO): what the
	// reader already holds belongs to the tunnel.
	return &bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn reads what the proxy's answer left in the buffer first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseWrite half-closes the tunnel when the underlying connection can.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
