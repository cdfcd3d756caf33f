package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Alarm channel types.
const (
	AlarmWebhook = "webhook"
	AlarmEmail   = "email"
)

// Alarm threshold defaults, applied to zero fields by ParseConfig.
const (
	DefaultAlarmExpiringWithin = 14 * 24 * time.Hour
	DefaultAlarmFailedAttempts = 3
)

// MetricsConfig is the Prometheus endpoint.
type MetricsConfig struct {
	// Listen ("host:port") serves GET /metrics; empty = off.
	Listen string `toml:"listen"`
}

// Dashboard TLS modes.
const (
	WebTLSFiles = "files" // tls_cert and tls_key, reloaded when they change
	WebTLSSelf  = "self"  // a certificate the hub obtains for hostname through its own DNS
	WebTLSOff   = "off"   // plain HTTP: loopback only, unless allow_plain_http
)

// WebConfig is the web dashboard.
type WebConfig struct {
	// Listen ("host:port") serves the dashboard; empty = off.
	Listen string `toml:"listen"`
	// TLS is "files", "self" or "off"; empty means "files" when TLSCert
	// is set, else "off" (the meaning before the key existed).
	TLS string `toml:"tls"`
	// TLSCert and TLSKey are PEM files (tls = "files"). Without TLS the
	// dashboard is served over plain HTTP, which Validate allows only on
	// a loopback address (behind a local TLS proxy) unless
	// AllowPlainHTTP.
	TLSCert        string `toml:"tls_cert"`
	TLSKey         string `toml:"tls_key"`
	AllowPlainHTTP bool   `toml:"allow_plain_http"`
	// Hostname is the name the dashboard is reached at with tls =
	// "self": dns.domain or a name under it, so the hub answers the
	// DNS-01 challenge itself.
	Hostname string `toml:"hostname"`
	// ClientCA is a PEM bundle of the CAs whose client certificates log
	// users in: a verified certificate logs in as the user named by its
	// subject CN, else the user whose e-mail is one of its SAN e-mail
	// addresses. Needs TLS.
	ClientCA string `toml:"client_ca"`
	// Metrics also serves /metrics on this listener (without login).
	Metrics bool `toml:"metrics"`
}

// TLSMode is the effective TLS mode: TLS, or what an empty TLS means.
func (w WebConfig) TLSMode() string {
	switch {
	case w.TLS != "":
		return w.TLS
	case w.TLSCert != "":
		return WebTLSFiles
	default:
		return WebTLSOff
	}
}

// AlarmConfig is one [[alarm]] channel and the conditions it is told about.
// Each condition is sent once when raised and once when it clears.
type AlarmConfig struct {
	Name string `toml:"name"` // unique, [a-z0-9_-]
	Type string `toml:"type"` // webhook or email

	// Webhook: URL receives a JSON POST; with Secret, the body's
	// HMAC-SHA256 is sent hex-encoded in X-Certfleet-Signature as
	// "sha256=<hex>".
	URL    string `toml:"url"`
	Secret string `toml:"secret"`

	// Email: SMTP server "host:port"; STARTTLS is required unless
	// Insecure (tests, a local relay); Username/Password use PLAIN auth.
	SMTP     string   `toml:"smtp"`
	Username string   `toml:"username"`
	Password string   `toml:"password"`
	From     string   `toml:"from"`
	To       []string `toml:"to"`
	Insecure bool     `toml:"insecure"`
	// CAFile is a PEM bundle the SMTP server's certificate chains to;
	// empty = system roots.
	CAFile string `toml:"ca_file"`

	// Thresholds. ExpiringWithin: a certificate expiring within this
	// (default 336h = 14 days). FailedAttempts: renewal failed this many
	// times in a row (default 3). OfflineFor: agent not heard from for this
	// long (default agents.silent_after). ReloadFailed (default true): the
	// agent installed a certificate but the service reload failed.
	// UnmanagedExpiring (default true): a certificate an agent found in
	// its [inventory] paths, which certfleet does not renew, expires
	// within ExpiringWithin. A negative duration or attempts count turns
	// that condition off.
	ExpiringWithin    Duration `toml:"expiring_within"`
	FailedAttempts    int      `toml:"failed_attempts"`
	OfflineFor        Duration `toml:"offline_for"`
	ReloadFailed      *bool    `toml:"reload_failed"`
	UnmanagedExpiring *bool    `toml:"unmanaged_expiring"`
}

// ReloadFailedOn reports whether reload failures are sent on the channel.
func (a AlarmConfig) ReloadFailedOn() bool { return a.ReloadFailed == nil || *a.ReloadFailed }

// UnmanagedExpiringOn reports whether expiring unmanaged certificates are
// sent on the channel.
func (a AlarmConfig) UnmanagedExpiringOn() bool {
	return a.UnmanagedExpiring == nil || *a.UnmanagedExpiring
}

func (c *Config) fillAlarmDefaults() {
	for i := range c.Alarm {
		a := &c.Alarm[i]
		if a.ExpiringWithin == 0 {
			a.ExpiringWithin = Duration(DefaultAlarmExpiringWithin)
		}
		if a.FailedAttempts == 0 {
			a.FailedAttempts = DefaultAlarmFailedAttempts
		}
		if a.OfflineFor == 0 {
			a.OfflineFor = c.Agents.SilentAfter
		}
	}
}

func (c Config) validateVisibility(v *validator) {
	if c.Metrics.Listen != "" {
		checkListen(v, "metrics.listen", c.Metrics.Listen)
	}
	if w := c.Web; w.Listen != "" {
		c.validateWeb(v)
	}
	names := map[string]bool{}
	for i, a := range c.Alarm {
		f := func(name string) string { return fmt.Sprintf("alarm[%d].%s", i, name) }
		switch {
		case a.Name == "":
			v.Required(f("name"), "")
		case !caNameRe.MatchString(a.Name):
			v.Invalid(f("name"), a.Name, "want lower-case letters, digits, '-' or '_'")
		case names[a.Name]:
			v.Duplicate(f("name"), a.Name, "already used by another [[alarm]]")
		}
		names[a.Name] = true
		switch a.Type {
		case AlarmWebhook:
			u, err := url.Parse(a.URL)
			switch {
			case a.URL == "":
				v.Required(f("url"), "for a webhook")
			case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
				v.Invalid(f("url"), a.URL, "want an http:// or https:// URL")
			}
		case AlarmEmail:
			if a.SMTP == "" {
				v.Required(f("smtp"), "for email: the server as host:port, e.g. \"smtp.example.org:587\"")
			} else if host, port, err := net.SplitHostPort(a.SMTP); err != nil || host == "" {
				v.Invalid(f("smtp"), a.SMTP, "want host:port")
			} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				v.Invalid(f("smtp"), a.SMTP, "port %q: want a number from 1 to 65535", port)
			}
			if _, err := mail.ParseAddress(a.From); err != nil {
				v.Invalid(f("from"), a.From, "want a mail address: %v", err)
			}
			if len(a.To) == 0 {
				v.Required(f("to"), "at least one recipient")
			}
			for _, to := range a.To {
				if _, err := mail.ParseAddress(to); err != nil {
					v.Invalid(f("to"), to, "want a mail address: %v", err)
				}
			}
			if (a.Username == "") != (a.Password == "") {
				v.Conflict(f("password"), "username and password go together")
			}
		case "":
			v.Required(f("type"), "webhook or email")
		default:
			v.Invalid(f("type"), a.Type, "want webhook or email")
		}
	}
}

func (c Config) validateWeb(v *validator) {
	w := c.Web
	mode := w.TLSMode()
	if p := listenProblem(w.Listen); p != "" {
		v.Invalid("web.listen", nil, "%s", p)
	} else if mode == WebTLSOff && !w.AllowPlainHTTP && !loopbackListen(w.Listen) {
		v.Conflict("web.listen", "%q: plain HTTP only on a loopback address; set web.tls (\"self\" with web.hostname, or web.tls_cert and web.tls_key), or allow_plain_http behind a TLS proxy", w.Listen)
	}
	switch mode {
	case WebTLSFiles:
		if (w.TLSCert == "") != (w.TLSKey == "") || w.TLSCert == "" {
			v.Conflict("web.tls_key", "web.tls_cert and web.tls_key go together (tls = \"files\" needs both)")
		}
	case WebTLSSelf:
		zone := strings.TrimSuffix(strings.ToLower(c.DNS.Domain), ".")
		name := strings.TrimSuffix(strings.ToLower(w.Hostname), ".")
		switch {
		case name == "":
			v.Required("web.hostname", "with tls = \"self\": the name the dashboard is reached at, under dns.domain")
		case dnsNameProblem(name) != "":
			v.Invalid("web.hostname", w.Hostname, "want a DNS name: %s", dnsNameProblem(name))
		case zone != "" && name != zone && !strings.HasSuffix(name, "."+zone):
			v.Invalid("web.hostname", w.Hostname, "want dns.domain (%s) or a name under it, so the hub can answer its challenge", zone)
		}
		if w.TLSCert != "" || w.TLSKey != "" {
			v.Conflict("web.tls_cert", "set with tls = \"self\", which obtains the certificate: drop tls_cert and tls_key, or use tls = \"files\"")
		}
	case WebTLSOff:
		switch {
		case w.TLS == "" && w.TLSKey != "":
			v.Conflict("web.tls_key", "web.tls_cert and web.tls_key go together")
		case w.TLSCert != "" || w.TLSKey != "":
			v.Conflict("web.tls_cert", "set with tls = \"off\"")
		}
	default:
		v.Invalid("web.tls", w.TLS, "want \"files\", \"self\" or \"off\"")
	}
	if w.Hostname != "" && mode != WebTLSSelf {
		v.Conflict("web.hostname", "only used with tls = \"self\"")
	}
	if w.ClientCA != "" && mode == WebTLSOff {
		v.Conflict("web.client_ca", "client certificates need TLS: set web.tls")
	}
}
