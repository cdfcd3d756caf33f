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

	"github.com/certfleet/certfleet/shared"
)

var (
	caNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	labelRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Validation bounds.
const (
	maxTXTTTL      = 86400
	maxConcurrency = 256
	maxReplicas    = 5
	minCredsTTL    = time.Minute
	// maxCredsTTL matches natsauth.MaxAgentTTL: longer JWTs are refused
	// when issued, so refuse them here, where the operator sees it.
	maxCredsTTL    = 366 * 24 * time.Hour
	minSilentAfter = time.Minute
)

var keyTypes = []string{"ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"}

type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Validate checks every field and returns all problems joined, each a
// *FieldError naming its field (see FieldErrors). It reads no files: paths
// are checked when the hub opens them.
func (c Config) Validate() error {
	v := &validator{}
	if c.DataDir == "" {
		v.add("data_dir", "required")
	}
	if !oneOf(c.LogLevel, "debug", "info", "warn", "error") {
		v.add("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if !oneOf(c.LogFormat, "text", "json") {
		v.add("log_format", "%q: want text or json", c.LogFormat)
	}
	c.validateDNS(v)
	c.validateNATS(v)
	c.validateCA(v)
	c.validateIssuance(v)
	c.validateAgents(v)
	c.validateACMEDNS(v)
	c.validateVisibility(v)
	c.validateDebug(v)
	return errors.Join(v.errs...)
}

func (c Config) validateDNS(v *validator) {
	d := c.DNS
	if p := listenProblem(d.Listen); p != "" {
		v.add("dns.listen", "%s", p)
	}
	domainOK := false
	switch {
	case d.Domain == "":
		v.add("dns.domain", "required: the zone delegated to the hub, e.g. \"acme.example.org\"")
	default:
		if p := dnsNameProblem(d.Domain); p != "" {
			v.add("dns.domain", "must be a DNS name: %s", p)
		} else {
			domainOK = true
		}
	}
	if domainOK {
		if d.NSName == "" {
			v.add("dns.nsname", "required (ParseConfig fills in ns1.<domain>)")
		} else if p := dnsNameProblem(d.NSName); p != "" {
			v.add("dns.nsname", "must be a DNS name: %s", p)
		}
		if d.NSAdmin == "" {
			v.add("dns.nsadmin", "required (ParseConfig fills in hostmaster.<domain>)")
		}
	}
	if d.NSAdmin != "" {
		if p := nsAdminProblem(d.NSAdmin); p != "" {
			v.add("dns.nsadmin", "%s", p)
		}
	}
	zone := dns.Fqdn(shared.NormalizeName(d.Domain))
	for i, rec := range d.Records {
		field := fmt.Sprintf("dns.records[%d]", i)
		rr, err := dns.NewRR(rec)
		switch {
		case err != nil:
			v.add(field, "%q: %v", rec, err)
		case rr == nil:
			v.add(field, "%q: empty record", rec)
		case domainOK && !dns.IsSubDomain(zone, strings.ToLower(rr.Header().Name)):
			v.add(field, "%q: owner %s is outside dns.domain %s (write absolute names ending in '.')",
				rec, rr.Header().Name, zone)
		}
	}
	if d.TXTTTL > maxTXTTTL {
		v.add("dns.txt_ttl", "%d: want at most %d", d.TXTTTL, maxTXTTTL)
	}
	if d.RateLimit < 0 {
		v.add("dns.rate_limit", "%d: want 0 (off) or more", d.RateLimit)
	}
}

func (c Config) validateNATS(v *validator) {
	n := c.NATS
	x := n.External
	if x == nil {
		if p := listenProblem(n.Listen); p != "" {
			v.add("nats.listen", "%s", p)
		}
		// Without advertise the hub hands out its own listen address, which
		// is only right for agents on the same host.
		if len(n.Advertise) == 0 && !loopbackListen(n.Listen) {
			v.add("nats.advertise", "required unless nats.listen is a loopback address: the URLs agents connect to, e.g. \"tls://hub.example.org:4222\"")
		}
		if n.Replicas != 1 {
			v.add("nats.replicas", "%d: the embedded server is a single node; want 1", n.Replicas)
		}
		if n.WebsocketListen != "" {
			if p := listenProblem(n.WebsocketListen); p != "" {
				v.add("nats.websocket_listen", "%s", p)
			}
		}
	} else if n.WebsocketListen != "" {
		v.add("nats.websocket_listen", "only for the embedded server; with nats.external configure websocket on your servers and list its wss:// URL in nats.advertise")
	} else if n.Replicas < 1 || n.Replicas > maxReplicas {
		v.add("nats.replicas", "%d: want 1 to %d", n.Replicas, maxReplicas)
	}
	for i, u := range n.Advertise {
		if p := natsURLProblem(u); p != "" {
			v.add(fmt.Sprintf("nats.advertise[%d]", i), "%s", p)
		}
	}
	switch {
	case n.TLSCert != "" && n.TLSKey == "":
		v.add("nats.tls_key", "required when nats.tls_cert is set")
	case n.TLSKey != "" && n.TLSCert == "":
		v.add("nats.tls_cert", "required when nats.tls_key is set")
	}
	if n.AllowPlaintext && n.TLSCert != "" {
		v.add("nats.allow_plaintext", "contradicts nats.tls_cert; set one or the other")
	}
	for i, h := range n.TLSHosts {
		if !validHost(h) {
			v.add(fmt.Sprintf("nats.tls_hosts[%d]", i), "%q: want a host name or IP address", h)
		}
	}
	if x == nil {
		return
	}
	if len(x.URLs) == 0 {
		v.add("nats.external.urls", "required: the NATS servers to connect to")
	}
	for i, u := range x.URLs {
		if p := natsURLProblem(u); p != "" {
			v.add(fmt.Sprintf("nats.external.urls[%d]", i), "%s", p)
		}
	}
	if x.Credentials == "" {
		v.add("nats.external.credentials", "required: the hub user's creds file")
	}
	if x.SigningKey == "" {
		v.add("nats.external.signing_key", "required: the file with the account's scoped signing key seed")
	}
	if !nkeys.IsValidPublicAccountKey(x.Account) {
		v.add("nats.external.account", "%q: want the account's public nkey (56 characters starting with A)", x.Account)
	}
}

func (c Config) validateCA(v *validator) {
	if len(c.CA) == 0 {
		v.add("ca", "at least one [[ca]] is required")
	}
	seen := map[string]int{}
	for i, ca := range c.CA {
		f := func(name string) string { return fmt.Sprintf("ca[%d].%s", i, name) }
		switch {
		case !caNameRe.MatchString(ca.Name):
			v.add(f("name"), "%q: want 1-63 characters of [a-z0-9_-], starting with a letter or digit", ca.Name)
		default:
			if j, dup := seen[ca.Name]; dup {
				v.add(f("name"), "%q: already used by ca[%d]", ca.Name, j)
			}
			seen[ca.Name] = i
		}
		if u, err := url.Parse(ca.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add(f("directory"), "%q: want the CA's https:// ACME directory URL", ca.Directory)
		}
		if ca.Email != "" {
			if a, err := mail.ParseAddress(ca.Email); err != nil || a.Address != ca.Email {
				v.add(f("email"), "%q: want a plain mail address like ops@example.org", ca.Email)
			}
		}
		switch {
		case ca.EABKID != "" && ca.EABHMAC == "":
			v.add(f("eab_hmac"), "required when eab_kid is set")
		case ca.EABHMAC != "" && ca.EABKID == "":
			v.add(f("eab_kid"), "required when eab_hmac is set")
		case ca.EABHMAC != "" && !base64URL(ca.EABHMAC):
			// Never echo the HMAC key: it is a secret.
			v.add(f("eab_hmac"), "not base64url (as the CA hands it out)")
		}
		if !oneOf(ca.KeyType, keyTypes...) {
			v.add(f("key_type"), "%q: want one of %s", ca.KeyType, strings.Join(keyTypes, ", "))
		}
	}
}

func (c Config) validateIssuance(v *validator) {
	is := c.Issuance
	if is.Concurrency < 1 || is.Concurrency > maxConcurrency {
		v.add("issuance.concurrency", "%d: want 1 to %d", is.Concurrency, maxConcurrency)
	}
	if is.MaxNames < 1 || is.MaxNames > shared.MaxNames {
		v.add("issuance.max_names", "%d: want 1 to %d", is.MaxNames, shared.MaxNames)
	}
	if is.CheckDelegation && len(is.Resolvers) == 0 {
		v.add("issuance.resolvers", "required while issuance.check_delegation is on")
	}
	for i, r := range is.Resolvers {
		if ap, err := netip.ParseAddrPort(r); err != nil || ap.Port() == 0 {
			v.add(fmt.Sprintf("issuance.resolvers[%d]", i), "%q: want ip:port, e.g. \"1.1.1.1:53\" or \"[2606:4700:4700::1111]:53\"", r)
		}
	}
	if d := is.RetryBase.D(); d < time.Second || d > time.Hour {
		v.add("issuance.retry_base", "%v: want between 1s and 1h", d)
	}
	if !(is.RenewFraction > 0 && is.RenewFraction < 1) {
		v.add("issuance.renew_fraction", "%v: want a fraction between 0 and 1, e.g. 0.33", is.RenewFraction)
	}
}

func (c Config) validateAgents(v *validator) {
	if d := c.Agents.CredsTTL.D(); d < minCredsTTL {
		v.add("agents.creds_ttl", "%v: want at least %v", d, minCredsTTL)
	} else if d > maxCredsTTL {
		v.add("agents.creds_ttl", "%v: want at most %v (366 days)", d, maxCredsTTL)
	}
	if d := c.Agents.SilentAfter.D(); d < minSilentAfter {
		v.add("agents.silent_after", "%v: want at least %v", d, minSilentAfter)
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
			return "must be a mail address or DNS name: " + p
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

// listenProblem checks a "host:port" listen address (port 0 picks one).
func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q: want host:port, e.g. \":53\" or \"198.51.100.7:53\"", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host != "" && !validHost(host) {
		return fmt.Sprintf("%q: host %q is not an IP address or host name", addr, host)
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
			return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", raw, p)
		}
	}
	if !validHost(u.Hostname()) {
		return fmt.Sprintf("%q: host %q is not an IP address or host name", raw, u.Hostname())
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
