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

	"github.com/certfleet/certfleet/shared"
)

var profileRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// maxReloadTimeout bounds how long one reload may hold up the agent.
const maxReloadTimeout = time.Hour

// Validate checks the configuration. Every error names the field, e.g.
// "certificate[1].names[0]: ...". Names must already be normalized (as
// ParseConfig does).
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.StateDir == "":
		add("state_dir", "missing")
	case !filepath.IsAbs(c.StateDir):
		add("state_dir", "%q is not an absolute path", c.StateDir)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Hub.Enrollment != "" && !filepath.IsAbs(c.Hub.Enrollment) {
		add("hub.enrollment", "%q is not an absolute path", c.Hub.Enrollment)
	}
	c.Hub.validate(add)
	c.Inventory.validate(add)
	blockNames := map[string]string{}
	paths := map[string]string{}
	for i, b := range c.Certificates {
		f := fmt.Sprintf("certificate[%d]", i)
		if err := shared.ValidateCertName(b.Name); err != nil {
			add(f+".name", "%q: want 1-63 characters of [A-Za-z0-9_.-], starting with a letter or digit", b.Name)
		} else if prev, dup := blockNames[strings.ToLower(b.Name)]; dup {
			// Case-insensitive: names become file names (pending keys),
			// and some file systems ignore case.
			add(f+".name", "%q used twice (also %s)", b.Name, prev)
		} else {
			blockNames[strings.ToLower(b.Name)] = f
		}
		b.validateNames(f, add)
		if !validKeyType(b.KeyType) {
			add(f+".key_type", "%q: want one of %s", b.KeyType, strings.Join(KeyTypes, ", "))
		}
		if b.Profile != "" && !profileRe.MatchString(b.Profile) {
			add(f+".profile", "%q: want 1-64 characters of [A-Za-z0-9_.-]", b.Profile)
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
					add(pf, "missing")
				}
				continue
			case !filepath.IsAbs(p.path):
				add(pf, "%q is not an absolute path", p.path)
				continue
			}
			clean := filepath.Clean(p.path)
			if c.StateDir != "" && filepath.Dir(clean) == filepath.Clean(c.StateDir) {
				add(pf, "%q is inside state_dir, which is private to the agent", p.path)
			}
			if prev, dup := paths[clean]; dup {
				add(pf, "%q is also %s", p.path, prev)
			} else {
				paths[clean] = pf
			}
		}
		if b.Mode.Mode&0o007 != 0 {
			add(f+".mode", "%s gives everyone access to the private key; drop the last digit to 0", b.Mode)
		}
		b.validateReload(f, add)
		b.validateWindowsStore(f, add)
		if b.ReloadTimeout.Duration <= 0 || b.ReloadTimeout.Duration > maxReloadTimeout {
			add(f+".reload_timeout", "%s: want more than 0 and at most %s", b.ReloadTimeout.Duration, maxReloadTimeout)
		}
		if b.RenewBefore.Duration < 0 {
			add(f+".renew_before", "%s is negative", b.RenewBefore.Duration)
		}
		b.validateCheck(f, add)
	}
	return errors.Join(errs...)
}

func (b Certificate) validateNames(f string, add func(field, format string, args ...any)) {
	if len(b.Names) == 0 {
		add(f+".names", "none; list at least one DNS name")
		return
	}
	if len(b.Names) > shared.MaxNames {
		add(f+".names", "%d names, limit %d", len(b.Names), shared.MaxNames)
	}
	seen := map[string]bool{}
	for j, n := range b.Names {
		nf := fmt.Sprintf("%s.names[%d]", f, j)
		if err := shared.ValidateDNSName(n); err != nil {
			var pe *shared.Error
			if errors.As(err, &pe) {
				add(nf, "%s", pe.Message)
			} else {
				add(nf, "%v", err)
			}
			continue
		}
		if seen[n] {
			add(nf, "%q listed twice", n)
		}
		seen[n] = true
	}
}

func validKeyType(kt string) bool {
	for _, k := range KeyTypes {
		if kt == k {
			return true
		}
	}
	return false
}

// validate checks the [hub] keys that say how to reach the hub.
func (h Hub) validate(add func(field, format string, args ...any)) {
	for i, raw := range h.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Hostname() == "":
			add(fmt.Sprintf("hub.urls[%d]", i), "%q: want a URL like tls://relay.example.org:4222", raw)
		case u.Scheme != "tls" && u.Scheme != "wss" && u.Scheme != "nats" && u.Scheme != "ws":
			add(fmt.Sprintf("hub.urls[%d]", i), "%q: scheme %q, want tls:// or wss://", raw, u.Scheme)
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
			add(fmt.Sprintf("hub.urls[%d]", i), "%q: want scheme, host and port only", raw)
		}
	}
	if h.TLSServerName != "" && !hostRe.MatchString(h.TLSServerName) && net.ParseIP(h.TLSServerName) == nil {
		add("hub.tls_server_name", "%q: want a host name", h.TLSServerName)
	}
	if h.ProxyURL != "" {
		// The same rules as the agent's dialer (agent/client.ParseProxyURL).
		u, err := url.Parse(h.ProxyURL)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			add("hub.proxy_url", "want http://[user:password@]host:port (HTTP CONNECT proxy)")
		}
	}
}
