package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// StarterOptions are what `certfleet-hub init` knows about the new hub.
type StarterOptions struct {
	DataDir string // default DefaultDataDir
	Domain  string // the hub zone, e.g. "acme.example.org"
	NSName  string // default "ns1.<domain>"
	NSAdmin string // default "hostmaster.<domain>"
	// PublicHost is the name agents connect to (default NSName).
	PublicHost string
	// PublicIPs are the hub's public addresses: glue records for NSName
	// when it lies inside the zone.
	PublicIPs   []string
	Email       string // ACME account contact; may be empty
	CAName      string // default DefaultCAName
	CADirectory string // default LetsEncryptProduction
}

// StarterConfig returns a commented configuration file for opts. With
// Domain set it parses and validates as is; every other value is a
// production default the operator can change.
func StarterConfig(opts StarterOptions) string {
	def := DefaultConfig()
	domain := shared.NormalizeName(opts.Domain)
	nsname := shared.NormalizeName(opts.NSName)
	nsadmin := opts.NSAdmin
	if domain != "" {
		if nsname == "" {
			nsname = "ns1." + domain
		}
		if nsadmin == "" {
			nsadmin = "hostmaster." + domain
		}
	}
	host := opts.PublicHost
	if host == "" {
		host = nsname
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = def.DataDir
	}
	caName := opts.CAName
	if caName == "" {
		caName = DefaultCAName
	}
	caDir := opts.CADirectory
	if caDir == "" {
		caDir = LetsEncryptProduction
	}
	var records, advertise, tlsHosts []string
	if nsname != "" && domain != "" && dns.IsSubDomain(dns.Fqdn(domain), dns.Fqdn(nsname)) {
		for _, ip := range opts.PublicIPs {
			typ := "A"
			if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
				typ = "AAAA"
			}
			records = append(records, fmt.Sprintf("%s. 3600 %s %s", nsname, typ, ip))
		}
	}
	if host != "" {
		advertise = []string{"tls://" + host + ":" + DefaultNATSPort}
		tlsHosts = append([]string{host}, opts.PublicIPs...)
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# certfleet hub configuration, written by `certfleet-hub init`.")
	w("# Durations are strings such as \"90m\", \"2h\", \"720h\". Unknown keys are errors.")
	w("")
	w("# Keys, NATS credentials, TLS material, ACME accounts and the JetStream")
	w("# store live here (directories 0700, secrets 0600).")
	w("data_dir = %s", tomlString(dataDir))
	w("log_level = %s   # debug, info, warn, error", tomlString(def.LogLevel))
	w("log_format = %s  # text, json", tomlString(def.LogFormat))
	w("")
	w("[dns]")
	w("# The zone delegated to this hub. At its parent zone, publish:")
	if domain != "" {
		w("#   %s. NS %s.", domain, nsname)
		for _, r := range records {
			w("#   %s   (glue)", r)
		}
	} else {
		w("#   acme.example.org. NS ns1.acme.example.org.  (and glue for ns1)")
	}
	w("domain = %s", tomlString(domain))
	w("nsname = %s", tomlString(nsname))
	w("nsadmin = %s   # SOA contact", tomlString(nsadmin))
	w("listen = %s", tomlString(def.DNS.Listen))
	w("# Static records served in the zone: zone-file syntax, absolute names.")
	w("records = %s", tomlArray(records))
	w("txt_ttl = %d      # TTL of challenge TXT answers", def.DNS.TXTTTL)
	w("rate_limit = %d   # responses per second per source /24 (v4) or /56 (v6); 0 = off", def.DNS.RateLimit)
	w("")
	w("[nats]")
	w("listen = %s", tomlString(def.NATS.Listen))
	w("# NATS over WebSocket (TLS) for agents that may only use HTTPS; then add")
	w("# its wss:// URL to advertise, after the tls:// one (see README, Reach).")
	w("# websocket_listen = \"0.0.0.0:443\"")
	w("# URLs written into agents' enrollment bundles, in order of preference.")
	w("advertise = %s", tomlArray(advertise))
	w("# PEM certificate and key for the client port. Left empty, the hub makes")
	w("# its own CA and a certificate for tls_hosts, and agents pin that CA.")
	w("tls_cert = \"\"")
	w("tls_key = \"\"")
	w("tls_hosts = %s", tomlArray(tlsHosts))
	w("# Sync every JetStream write to disk: no acknowledged request is lost")
	w("# when the host loses power.")
	w("sync_always = %t", def.NATS.SyncAlways)
	w("replicas = %d", def.NATS.Replicas)
	w("# To use an existing operator-mode NATS deployment instead of the")
	w("# embedded server (replicas may then be 3):")
	w("# [nats.external]")
	w("# urls = [\"tls://nats1.example.org:4222\", \"tls://nats2.example.org:4222\"]")
	w("# credentials = \"/etc/certfleet-hub/hub.creds\"")
	w("# signing_key = \"/etc/certfleet-hub/agents-signing.nk\"   # scoped signing key seed")
	w("# account = \"A...\"                                        # the account's public key")
	w("# ca = \"\"                                                 # PEM roots; empty = system")
	w("")
	w("# ACME certificate authorities. The first is the default.")
	w("[[ca]]")
	w("name = %s", tomlString(caName))
	w("directory = %s", tomlString(caDir))
	w("# Let's Encrypt staging (untrusted certificates, generous rate limits):")
	w("# directory = %s", tomlString(LetsEncryptStaging))
	w("email = %s", tomlString(opts.Email))
	w("key_type = %s   # account key: %s", tomlString(DefaultKeyType), strings.Join(keytype.All(), ", "))
	w("# External account binding, for CAs that require it:")
	w("# eab_kid = \"\"")
	w("# eab_hmac = \"\"")
	w("# Extra PEM roots trusted for the directory's HTTPS:")
	w("# ca_bundle = \"\"")
	w("# The CA's rate limits, which the hub paces its orders to. Unset: Let's")
	w("# Encrypt's published limits for its directories, none for other CAs.")
	w("# [ca.limits]")
	w("# new_orders_per_3h = %d           # per ACME account; 0 = no limit", letsEncryptLimits.NewOrdersPer3h)
	w("# certs_per_domain_per_week = %d    # per registered domain; 0 = no limit", letsEncryptLimits.CertsPerDomainPerWeek)
	w("# renewals_exempt = %t           # renewals do not count (as at Let's Encrypt)", letsEncryptLimits.RenewalsExempt)
	w("# renewal_reserve = %s            # share first issuances leave for renewals that count",
		strconv.FormatFloat(DefaultRenewalReserve, 'g', -1, 64))
	w("")
	w("[issuance]")
	w("# Orders in flight: a number to start from, or \"auto\" (%d). The hub adapts", DefaultConcurrency)
	w("# it to the CA's latency and 429 answers, up to max_concurrency; set both")
	w("# equal for a fixed concurrency.")
	w("concurrency = %s", tomlString(def.Issuance.Concurrency.String()))
	w("max_concurrency = %d", def.Issuance.MaxConcurrency)
	w("max_names = %d   # names per certificate", def.Issuance.MaxNames)
	w("# Public resolvers asked whether a name's _acme-challenge is delegated")
	w("# to this hub before an order is placed.")
	w("resolvers = %s", tomlArray(def.Issuance.Resolvers))
	w("check_delegation = %t", def.Issuance.CheckDelegation)
	w("# Without ARI, advise renewal when this fraction of the lifetime remains.")
	w("renew_fraction = %s", strconv.FormatFloat(def.Issuance.RenewFraction, 'g', -1, 64))
	w("# First wait after a failed order; doubles per failure (with jitter) up to 4h.")
	w("retry_base = %s", tomlString(durationString(def.Issuance.RetryBase)))
	w("")
	w("[agents]")
	w("creds_ttl = %s      # lifetime of an agent's NATS credentials; re-issued before expiry", tomlString(durationString(def.Agents.CredsTTL)))
	w("silent_after = %s     # alert when an agent has not been heard from for this long", tomlString(durationString(def.Agents.SilentAfter)))
	w("")
	w("# The acme-dns compatible HTTP API, for clients written for acme-dns")
	w("# (README: Coming from acme-dns). Off unless enabled.")
	w("[acmedns]")
	w("enabled = false")
	w("listen = %s", tomlString(def.ACMEDNS.Listen))
	w("tls = %s   # files (tls_cert, tls_key), self (obtained for api_name), off (loopback only)", tomlString(def.ACMEDNS.TLS))
	w("# tls_cert = \"/etc/certfleet-hub/api.pem\"")
	w("# tls_key = \"/etc/certfleet-hub/api.key\"")
	w("# api_name = \"auth.example.org\"   # with tls = \"self\": dns.domain or a name under it")
	w("disable_registration = false   # true: only `certfleet-hub acmedns register` creates accounts")
	w("trusted_proxies = []   # IPs/CIDRs whose X-Forwarded-For names the client")
	w("cors_origins = []      # browser origins allowed to call the API; \"*\" = any")
	w("rate_limit = %s   # requests/s per client address on /register and /update; 0 = off", strconv.FormatFloat(def.ACMEDNS.RateLimit, 'g', -1, 64))
	w("rate_burst = %d", def.ACMEDNS.RateBurst)
	w("max_body = %d   # bytes", def.ACMEDNS.MaxBody)
	return b.String()
}

// durationString writes d the way people do ("720h", not "720h0m0s").
func durationString(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
