package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

var profileRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// maxReloadTimeout bounds how long one reload may hold up the agent.
const maxReloadTimeout = time.Hour

// validator collects Validate's problems.
type validator = configfile.Errors

// Validate checks the configuration and returns every problem as a
// configfile.Errors, each a *configfile.FieldError naming its field
// ("certificate[1].names[0]") with a kind (configfile.ErrRequired, ...).
// Names must already be normalized (as ParseConfig does).
func (c Config) Validate() error {
	v := &validator{}
	switch {
	case c.StateDir == "":
		v.Required("state_dir", "")
	case !filepath.IsAbs(c.StateDir):
		v.Invalid("state_dir", c.StateDir, "want an absolute path")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.Invalid("log_level", c.LogLevel, "want debug, info, warn or error")
	}
	if c.Hub.Enrollment != "" && !filepath.IsAbs(c.Hub.Enrollment) {
		v.Invalid("hub.enrollment", c.Hub.Enrollment, "want an absolute path")
	}
	c.Hub.validate(v)
	c.Inventory.validate(v)
	blockNames := map[string]string{}
	paths := map[string]string{}
	for i, b := range c.Certificates {
		f := fmt.Sprintf("certificate[%d]", i)
		if b.Name == "" {
			v.Required(f+".name", "the name status and renew know the block by")
		} else if err := shared.ValidateCertName(b.Name); err != nil {
			v.Invalid(f+".name", b.Name, "want 1-63 characters of [A-Za-z0-9_.-], starting with a letter or digit")
		} else if prev, dup := blockNames[strings.ToLower(b.Name)]; dup {
			// Case-insensitive: names become file names (pending keys),
			// and some file systems ignore case.
			v.Duplicate(f+".name", b.Name, "already used by %s (names are compared ignoring case)", prev)
		} else {
			blockNames[strings.ToLower(b.Name)] = f
		}
		b.validateNames(f, v)
		if !keytype.Valid(b.KeyType) {
			v.Invalid(f+".key_type", b.KeyType, "want one of %s", strings.Join(keytype.All(), ", "))
		}
		if b.Profile != "" && !profileRe.MatchString(b.Profile) {
			v.Invalid(f+".profile", b.Profile, "want 1-64 characters of [A-Za-z0-9_.-]")
		}
		for _, p := range []struct {
			field, path string
			required    bool
		}{
			{"cert", b.Cert, true}, {"chain", b.Chain, false},
			{"fullchain", b.Fullchain, false}, {"key", b.Key, true}, {"pfx", b.PFX, false},
		} {
			pf := f + "." + p.field
			switch {
			case p.path == "":
				if p.required {
					v.Required(pf, "")
				}
				continue
			case !filepath.IsAbs(p.path):
				v.Invalid(pf, p.path, "want an absolute path")
				continue
			}
			clean := filepath.Clean(p.path)
			if c.StateDir != "" && filepath.Dir(clean) == filepath.Clean(c.StateDir) {
				v.Invalid(pf, p.path, "inside state_dir, which is private to the agent; want another directory")
			}
			if prev, dup := paths[clean]; dup {
				v.Duplicate(pf, p.path, "already used by %s", prev)
			} else {
				paths[clean] = pf
			}
		}
		if b.Mode.Mode&0o007 != 0 {
			v.Invalid(f+".mode", b.Mode, "gives everyone access to the private key; drop the last digit to 0")
		}
		b.validateReload(f, v)
		b.validateWindowsStore(f, v)
		if b.ReloadTimeout.Duration <= 0 || b.ReloadTimeout.Duration > maxReloadTimeout {
			v.OutOfRange(f+".reload_timeout", b.ReloadTimeout.Duration, "want more than 0 and at most %s", maxReloadTimeout)
		}
		if b.RenewBefore.Duration < 0 {
			v.OutOfRange(f+".renew_before", b.RenewBefore.Duration, "want 0 (the hub's advice) or more")
		}
		b.validateCheck(f, v)
	}
	return v.Err()
}

func (b Certificate) validateNames(f string, v *validator) {
	if len(b.Names) == 0 {
		v.Required(f+".names", "at least one DNS name")
		return
	}
	if len(b.Names) > shared.MaxNames {
		v.OutOfRange(f+".names", nil, "%d names; want at most %d", len(b.Names), shared.MaxNames)
	}
	seen := map[string]bool{}
	for j, n := range b.Names {
		nf := fmt.Sprintf("%s.names[%d]", f, j)
		if err := shared.ValidateDNSName(n); err != nil {
			var pe *shared.Error
			if errors.As(err, &pe) {
				v.Invalid(nf, nil, "%s", pe.Message)
			} else {
				v.Invalid(nf, nil, "%v", err)
			}
			continue
		}
		if seen[n] {
			v.Duplicate(nf, n, "listed twice")
		}
		seen[n] = true
	}
}

// validate checks the [hub] keys that say how to reach the hub.
func (h Hub) validate(v *validator) {
	for i, raw := range h.URLs {
		f := fmt.Sprintf("hub.urls[%d]", i)
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Hostname() == "":
			v.Invalid(f, raw, "want a URL like tls://relay.example.org:4222")
		case u.Scheme != "tls" && u.Scheme != "wss" && u.Scheme != "nats" && u.Scheme != "ws":
			v.Invalid(f, raw, "scheme %q: want tls:// or wss://", u.Scheme)
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
			v.Invalid(f, raw, "want scheme, host and port only")
		}
	}
	if h.TLSServerName != "" && !hostRe.MatchString(h.TLSServerName) && net.ParseIP(h.TLSServerName) == nil {
		v.Invalid("hub.tls_server_name", h.TLSServerName, "want a host name")
	}
	if h.ProxyURL != "" {
		// The same rules as the agent's dialer (agent/client.ParseProxyURL).
		// The value is not shown: it may hold the proxy's password.
		u, err := url.Parse(h.ProxyURL)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			v.Invalid("hub.proxy_url", nil, "want http://[user:password@]host:port (HTTP CONNECT proxy)")
		}
	}
}
