package config

import (
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/certfleet/certfleet/shared"
)

// DefaultCheckTimeout is how long the post-install TLS check waits for
// the server to present the new certificate.
const DefaultCheckTimeout = 10 * time.Second

// maxCheckTimeout bounds check_timeout: the agent does nothing else
// while it waits.
const maxCheckTimeout = 10 * time.Minute

// hostRe is a host name as an address: LDH labels, single labels
// ("localhost") allowed.
var hostRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// CheckName is the server name (SNI) the TLS check asks for:
// check_server_name, else the first name that is not a wildcard, else "".
func (c Certificate) CheckName() string {
	if c.CheckServerName != "" {
		return c.CheckServerName
	}
	for _, n := range c.Names {
		if !strings.HasPrefix(n, "*.") {
			return n
		}
	}
	return ""
}

// CheckTimeoutOrDefault is check_timeout, or DefaultCheckTimeout when
// unset.
func (c Certificate) CheckTimeoutOrDefault() time.Duration {
	if c.CheckTimeout.Duration > 0 {
		return c.CheckTimeout.Duration
	}
	return DefaultCheckTimeout
}

func (c Certificate) validateCheck(f string, v *validator) {
	if c.CheckTLS == "" {
		if c.CheckServerName != "" {
			v.Conflict(f+".check_server_name", "set without check_tls")
		}
		if c.CheckTimeout.Duration != 0 {
			v.Conflict(f+".check_timeout", "set without check_tls")
		}
		return
	}
	if err := checkAddr(c.CheckTLS); err != nil {
		v.Invalid(f+".check_tls", c.CheckTLS, "%v", err)
	}
	switch sn := c.CheckServerName; {
	case sn != "":
		if strings.HasPrefix(sn, "*.") {
			v.Invalid(f+".check_server_name", sn, "a wildcard is not a server name to ask for")
		} else if err := shared.ValidateDNSName(sn); err != nil {
			var pe *shared.Error
			if errors.As(err, &pe) {
				v.Invalid(f+".check_server_name", nil, "%s", pe.Message)
			} else {
				v.Invalid(f+".check_server_name", nil, "%v", err)
			}
		}
	case len(c.Names) > 0 && c.CheckName() == "":
		v.Required(f+".check_server_name", "every name is a wildcard, so say which name to ask the server for")
	}
	if d := c.CheckTimeout.Duration; d < 0 || d > maxCheckTimeout {
		v.OutOfRange(f+".check_timeout", d, "want more than 0 and at most %s", maxCheckTimeout)
	}
}

// checkAddr accepts "host:port" with an IP or host name and a port in
// 1-65535.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(`want "host:port", e.g. "127.0.0.1:443"`)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("port: want a number from 1 to 65535")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if len(host) > 253 || !hostRe.MatchString(host) {
		return errors.New("host: want an IP address or a host name")
	}
	return nil
}
