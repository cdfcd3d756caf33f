package install

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrCheck marks a failed post-install TLS check: the service did not
// present the new certificate, and the previous files were put back.
var ErrCheck = errors.New("tls check failed")

// Pacing of the TLS check: the first retry comes quickly (most services
// reload in well under a second), later ones less often.
const (
	checkFirstDelay = 100 * time.Millisecond
	checkMaxDelay   = 2 * time.Second
	checkDialLimit  = 5 * time.Second
)

// TLSCheck asks a service, after install and reload, which certificate it
// presents.
type TLSCheck struct {
	// Addr is "host:port"; empty means no check.
	Addr string
	// ServerName is sent as SNI.
	ServerName string
	// Timeout bounds the whole check.
	Timeout time.Duration
}

// Configured reports whether there is a check to make.
func (c TLSCheck) Configured() bool { return c.Addr != "" }

// Wait handshakes with Addr, again and again with a growing pause, until
// the server presents want as its leaf, or Timeout passes. The handshake
// proves the server holds the leaf's key; the chain is not verified
// against any roots, since the question is only which certificate is
// served.
func (c TLSCheck) Wait(ctx context.Context, want *x509.Certificate) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := checkFirstDelay
	var last error
	for attempt := 1; ; attempt++ {
		leaf, err := c.served(ctx)
		switch {
		case err == nil && bytes.Equal(leaf.Raw, want.Raw):
			return nil
		case err == nil:
			last = fmt.Errorf("it presents serial %s, not the new %s", SerialHex(leaf), SerialHex(want))
		case last == nil || ctx.Err() == nil:
			// A dial cut short by the deadline says less than the
			// attempt before it.
			last = err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s (server name %q), %d attempts in %s: %w", c.Addr, c.ServerName, attempt, timeout, last)
		case <-t.C:
		}
		delay = min(delay*2, checkMaxDelay)
	}
}

// served makes one handshake and returns the leaf the server presented.
func (c TLSCheck) served(ctx context.Context) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, checkDialLimit)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{
		ServerName: c.ServerName,
		// Only the identity of the served leaf matters, compared byte
		// for byte; the agent need not trust the CA that issued it.
		InsecureSkipVerify: true, //nolint:gosec // compared with the installed leaf instead
		MinVersion:         tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("the server presented no certificate")
	}
	return certs[0], nil
}
