package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

var (
	caNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	labelRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Validation bounds.
const (
	maxTXTTTL   = 86400
	maxReplicas = 5
	minCredsTTL = time.Minute
	// maxCredsTTL matches natsauth.MaxAgentTTL: longer JWTs are refused
	// when issued, so refuse them here, where the operator sees it.
	maxCredsTTL    = 366 * 24 * time.Hour
	minSilentAfter = time.Minute
)

// validator collects Validate's problems.
type validator = configfile.Errors

// Validate checks every field and returns all problems as a
// configfile.Errors, each a *configfile.FieldError naming its field with a
// kind (configfile.ErrRequired, ...). It reads no files: paths are checked
// when the hub opens them.
func (c Config) Validate() error {
	v := &validator{}
	if c.DataDir == "" {
		v.Required("data_dir", "")
	}
	if !oneOf(c.LogLevel, "debug", "info", "warn", "error") {
		v.Invalid("log_level", c.LogLevel, "want debug, info, warn or error")
	}
	if !oneOf(c.LogFormat, "text", "json") {
		v.Invalid("log_format", c.LogFormat, "want text or json")
	}
	c.validateDNS(v)
	c.validateNATS(v)
	c.validateCA(v)
	c.validateLimits(v)
	c.validateIssuance(v)
	c.validateAgents(v)
	c.validateACMEDNS(v)
	c.validateVisibility(v)
	c.validateDebug(v)
	return v.Err()
}

func (c Config) validateDNS(v *validator) {
	d := c.DNS
	checkListen(v, "dns.listen", d.Listen)
	domainOK := false
	switch {
	case d.Domain == "":
		v.Required("dns.domain", "the zone delegated to the hub, e.g. \"acme.example.org\"")
	default:
		if p := dnsNameProblem(d.Domain); p != "" {
			v.Invalid("dns.domain", nil, "not a DNS name: %s", p)
		} else {
			domainOK = true
		}
	}
	if domainOK {
		if d.NSName == "" {
			v.Required("dns.nsname", "the hub's name server name (ParseConfig fills in ns1.<domain>)")
		} else if p := dnsNameProblem(d.NSName); p != "" {
			v.Invalid("dns.nsname", nil, "not a DNS name: %s", p)
		}
		if d.NSAdmin == "" {
			v.Required("dns.nsadmin", "the SOA contact (ParseConfig fills in hostmaster.<domain>)")
		}
	}
	if d.NSAdmin != "" {
		if p := nsAdminProblem(d.NSAdmin); p != "" {
			v.Invalid("dns.nsadmin", nil, "%s", p)
		}
	}
	zone := dns.Fqdn(shared.NormalizeName(d.Domain))
	for i, rec := range d.Records {
		field := fmt.Sprintf("dns.records[%d]", i)
		rr, err := dns.NewRR(rec)
		switch {
		case err != nil:
			v.Invalid(field, rec, "%v", err)
		case rr == nil:
			v.Invalid(field, rec, "want a record, not an empty line or comment")
		case domainOK && !dns.IsSubDomain(zone, strings.ToLower(rr.Header().Name)):
			v.Invalid(field, rec, "owner %s is outside dns.domain %s (write absolute names ending in '.')",
				rr.Header().Name, zone)
		}
	}
	if d.TXTTTL > maxTXTTTL {
		v.OutOfRange("dns.txt_ttl", d.TXTTTL, "want at most %d", maxTXTTTL)
	}
	if d.RateLimit < 0 {
		v.OutOfRange("dns.rate_limit", d.RateLimit, "want 0 (off) or more")
	}
}

func (c Config) validateNATS(v *validator) {
	n := c.NATS
	x := n.External
	if x == nil {
		checkListen(v, "nats.listen", n.Listen)
		// Without advertise the hub hands out its own listen address, which
		// is only right for agents on the same host.
		if len(n.Advertise) == 0 && !loopbackListen(n.Listen) {
			v.Required("nats.advertise", "unless nats.listen is a loopback address: the URLs agents connect to, e.g. \"tls://hub.example.org:4222\"")
		}
		if n.Replicas != 1 {
			v.OutOfRange("nats.replicas", n.Replicas, "the embedded server is a single node; want 1")
		}
		if n.WebsocketListen != "" {
			checkListen(v, "nats.websocket_listen", n.WebsocketListen)
		}
	} else if n.WebsocketListen != "" {
		v.Conflict("nats.websocket_listen", "only for the embedded server; with nats.external configure websocket on your servers and list its wss:// URL in nats.advertise")
	} else if n.Replicas < 1 || n.Replicas > maxReplicas {
		v.OutOfRange("nats.replicas", n.Replicas, "want 1 to %d", maxReplicas)
	}
	for i, u := range n.Advertise {
		if p := natsURLProblem(u); p != "" {
			v.Invalid(fmt.Sprintf("nats.advertise[%d]", i), nil, "%s", p)
		}
	}
	switch {
	case n.TLSCert != "" && n.TLSKey == "":
		v.Required("nats.tls_key", "with nats.tls_cert")
	case n.TLSKey != "" && n.TLSCert == "":
		v.Required("nats.tls_cert", "with nats.tls_key")
	}
	if n.AllowPlaintext && n.TLSCert != "" {
		v.Conflict("nats.allow_plaintext", "contradicts nats.tls_cert; set one or the other")
	}
	for i, h := range n.TLSHosts {
		if !validHost(h) {
			v.Invalid(fmt.Sprintf("nats.tls_hosts[%d]", i), h, "want a host name or IP address")
		}
	}
	if x == nil {
		return
	}
	if len(x.URLs) == 0 {
		v.Required("nats.external.urls", "the NATS servers to connect to")
	}
	for i, u := range x.URLs {
		if p := natsURLProblem(u); p != "" {
			v.Invalid(fmt.Sprintf("nats.external.urls[%d]", i), nil, "%s", p)
		}
	}
	if x.Credentials == "" {
		v.Required("nats.external.credentials", "the hub user's creds file")
	}
	if x.SigningKey == "" {
		v.Required("nats.external.signing_key", "the file with the account's scoped signing key seed")
	}
	if !nkeys.IsValidPublicAccountKey(x.Account) {
		v.Invalid("nats.external.account", x.Account, "want the account's public nkey (56 characters starting with A)")
	}
}

func (c Config) validateCA(v *validator) {
	if len(c.CA) == 0 {
		v.Required("ca", "at least one [[ca]]")
	}
	seen := map[string]int{}
	for i, ca := range c.CA {
		f := func(name string) string { return fmt.Sprintf("ca[%d].%s", i, name) }
		switch {
		case ca.Name == "":
			v.Required(f("name"), "the name requests and `certfleet-hub` commands know the CA by")
		case !caNameRe.MatchString(ca.Name):
			v.Invalid(f("name"), ca.Name, "want 1-63 characters of [a-z0-9_-], starting with a letter or digit")
		default:
			if j, dup := seen[ca.Name]; dup {
				v.Duplicate(f("name"), ca.Name, "already used by ca[%d]", j)
			}
			seen[ca.Name] = i
		}
		if ca.Directory == "" {
			v.Required(f("directory"), "the CA's https:// ACME directory URL")
		} else if u, err := url.Parse(ca.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
			v.Invalid(f("directory"), ca.Directory, "want the CA's https:// ACME directory URL")
		}
		if ca.Email != "" {
			if a, err := mail.ParseAddress(ca.Email); err != nil || a.Address != ca.Email {
				v.Invalid(f("email"), ca.Email, "want a plain mail address like ops@example.org")
			}
		}
		switch {
		case ca.EABKID != "" && ca.EABHMAC == "":
			v.Required(f("eab_hmac"), "with eab_kid")
		case ca.EABHMAC != "" && ca.EABKID == "":
			v.Required(f("eab_kid"), "with eab_hmac")
		case ca.EABHMAC != "" && !base64URL(ca.EABHMAC):
			// Never echo the HMAC key: it is a secret.
			v.Invalid(f("eab_hmac"), nil, "want base64url (as the CA hands it out)")
		}
		if !keytype.Valid(ca.KeyType) {
			v.Invalid(f("key_type"), ca.KeyType, "want one of %s", strings.Join(keytype.All(), ", "))
		}
	}
}

func (c Config) validateIssuance(v *validator) {
	is := c.Issuance
	c.validateConcurrency(v)
	if is.MaxNames < 1 || is.MaxNames > shared.MaxNames {
		v.OutOfRange("issuance.max_names", is.MaxNames, "want 1 to %d", shared.MaxNames)
	}
	if is.CheckDelegation && len(is.Resolvers) == 0 {
		v.Required("issuance.resolvers", "while issuance.check_delegation is on")
	}
	for i, r := range is.Resolvers {
		if ap, err := netip.ParseAddrPort(r); err != nil || ap.Port() == 0 {
			v.Invalid(fmt.Sprintf("issuance.resolvers[%d]", i), r, "want ip:port, e.g. \"1.1.1.1:53\" or \"[2606:4700:4700::1111]:53\"")
		}
	}
	if d := is.RetryBase.D(); d < time.Second || d > time.Hour {
		v.OutOfRange("issuance.retry_base", d, "want between 1s and 1h")
	}
	if !(is.RenewFraction > 0 && is.RenewFraction < 1) {
		v.OutOfRange("issuance.renew_fraction", is.RenewFraction, "want a fraction between 0 and 1, e.g. 0.33")
	}
}

func (c Config) validateAgents(v *validator) {
	if d := c.Agents.CredsTTL.D(); d < minCredsTTL {
		v.OutOfRange("agents.creds_ttl", d, "want at least %v", minCredsTTL)
	} else if d > maxCredsTTL {
		v.OutOfRange("agents.creds_ttl", d, "want at most %v (366 days)", maxCredsTTL)
	}
	if d := c.Agents.SilentAfter.D(); d < minSilentAfter {
		v.OutOfRange("agents.silent_after", d, "want at least %v", minSilentAfter)
	}
}

// TLSHostNames returns the names and addresses the self-made NATS server
// certificate must cover: tls_hosts, or else the advertised URLs' hosts.
func (c Config) TLSHostNames() []string {
	if len(c.NATS.TLSHosts) > 0 {
		return c.NATS.TLSHosts
	}
	var hosts []string
	seen := map[string]bool{}
	for _, raw := range c.NATS.Advertise {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" || seen[u.Hostname()] {
			continue
		}
		seen[u.Hostname()] = true
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// dnsNameProblem returns why name is not a usable DNS name, or "".
func dnsNameProblem(name string) string {
	n := shared.NormalizeName(name)
	if strings.Contains(n, "*") {
		return fmt.Sprintf("%q: no wildcards here", name)
	}
	if err := shared.ValidateDNSName(n); err != nil {
		var pe *shared.Error
		if errors.As(err, &pe) {
			return pe.Message
		}
		return err.Error()
	}
	return ""
}

func nsAdminProblem(s string) string {
	local, domain, isMail := strings.Cut(s, "@")
	if !isMail {
		if p := dnsNameProblem(s); p != "" {
			return "not a mail address or DNS name: " + p
		}
		return ""
	}
	if local == "" || strings.ContainsAny(local, " \t\"\\@") {
		return fmt.Sprintf("%q: want a plain mail address like hostmaster@example.org", s)
	}
	if p := dnsNameProblem(domain); p != "" {
		return "mail domain: " + p
	}
	return ""
}

// checkListen records a problem with the "host:port" listen address of
// field.
func checkListen(v *validator, field, addr string) {
	if p := listenProblem(addr); p != "" {
		v.Invalid(field, nil, "%s", p)
	}
}

// listenProblem checks a "host:port" listen address (port 0 picks one).
func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q: want host:port, e.g. \":53\" or \"198.51.100.7:53\"", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port %q: want a number from 0 to 65535", addr, port)
	}
	if host != "" && !validHost(host) {
		return fmt.Sprintf("%q: host %q: want an IP address or host name", addr, host)
	}
	return ""
}

// loopbackListen reports whether addr listens only on a loopback address.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func natsURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !oneOf(u.Scheme, "tls", "nats", "wss", "ws") || u.Hostname() == "" {
		return fmt.Sprintf("%q: want a URL like tls://hub.example.org:4222 or wss://hub.example.org:443", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Sprintf("%q: want scheme, host and port only", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q: port %q: want a number from 1 to 65535", raw, p)
		}
	}
	if !validHost(u.Hostname()) {
		return fmt.Sprintf("%q: host %q: want an IP address or host name", raw, u.Hostname())
	}
	return ""
}

// validHost accepts an IP address or a host name of LDH labels (a single
// label such as "localhost" included).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return true
}

func base64URL(s string) bool {
	if _, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return true
	}
	_, err := base64.URLEncoding.DecodeString(s)
	return err == nil
}
