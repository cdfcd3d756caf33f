package config

import (
	"log/slog"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
)

// Let's Encrypt ACME directories
// (https://letsencrypt.org/docs/environments/, https://letsencrypt.org/docs/staging-environment/).
const (
	LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Defaults for a production hub.
const (
	DefaultDataDir    = "/var/lib/certfleet-hub"
	DefaultDNSListen  = ":53"
	DefaultNATSListen = ":4222"
	DefaultNATSPort   = "4222"
	DefaultTXTTTL     = 1
	// DefaultRateLimit is dns.rate_limit: UDP responses per second per
	// source /24 (IPv4) or /56 (IPv6), with a burst of as many. A CA's
	// validator sends a handful of queries per challenge; past the limit
	// every second query gets an empty truncated reply (so real resolvers
	// retry over TCP) and the rest none, which caps what a spoofed flood
	// can reflect at one victim.
	DefaultRateLimit = 100
	// DefaultConcurrency is where concurrency = "auto" starts, and
	// DefaultMaxConcurrency where it stops growing.
	DefaultConcurrency    = 4
	DefaultMaxConcurrency = 64
	DefaultMaxNames       = 100
	DefaultKeyType        = keytype.Default
	DefaultCAName         = "letsencrypt"
	// DefaultRenewFraction: without ARI, advise renewal when a third of the
	// lifetime remains (what Let's Encrypt recommends).
	DefaultRenewFraction = 1.0 / 3
	// DefaultRetryBase is the first back-off after a failed order.
	DefaultRetryBase   = 30 * time.Second
	DefaultCredsTTL    = 720 * time.Hour
	DefaultSilentAfter = 2 * time.Hour
)

// DefaultResolvers are public recursive resolvers the hub asks when it
// checks that a name's _acme-challenge is delegated to it.
var DefaultResolvers = []string{"1.1.1.1:53", "8.8.8.8:53", "9.9.9.9:53"}

// Config is the hub's configuration file.
type Config struct {
	// DataDir holds the hub's keys, NATS credentials, TLS material, ACME
	// accounts and (embedded mode) the JetStream store.
	DataDir   string `toml:"data_dir"`
	LogLevel  string `toml:"log_level"`  // debug, info, warn, error
	LogFormat string `toml:"log_format"` // text, json

	DNS      DNSConfig      `toml:"dns"`
	NATS     NATSConfig     `toml:"nats"`
	CA       []CAConfig     `toml:"ca"` // the first is the default
	Issuance IssuanceConfig `toml:"issuance"`
	Agents   AgentsConfig   `toml:"agents"`
	ACMEDNS  ACMEDNSConfig  `toml:"acmedns"`
	Metrics  MetricsConfig  `toml:"metrics"`
	Web      WebConfig      `toml:"web"`
	Alarm    []AlarmConfig  `toml:"alarm"`
	Debug    DebugConfig    `toml:"debug"`

	// deprecated are the old spellings ParseConfig rewrote.
	deprecated []*configfile.FieldError
}

// Deprecations returns a warning for each old spelling ParseConfig read
// and rewrote (e.g. key_type = "ecdsa-p256" is now "ec256"), for the
// caller to log once with configfile.LogDeprecated.
func (c Config) Deprecations() []*configfile.FieldError { return c.deprecated }

// DNSConfig is the authoritative challenge DNS server.
type DNSConfig struct {
	Listen string `toml:"listen"` // host:port, UDP and TCP
	// Domain is the hub's zone, delegated to the hub by NS records.
	Domain string `toml:"domain"`
	// NSName is the hub's name server name (default "ns1.<domain>").
	NSName string `toml:"nsname"`
	// NSAdmin is the SOA contact as a mail address or name
	// (default "hostmaster.<domain>").
	NSAdmin string `toml:"nsadmin"`
	// Records are static records in zone-file syntax with absolute names,
	// e.g. "ns1.acme.example.org. 3600 A 198.51.100.7" (glue for NSName).
	Records   []string `toml:"records"`
	TXTTTL    uint32   `toml:"txt_ttl"`
	RateLimit int      `toml:"rate_limit"` // responses/s per source prefix; 0 = off
}

// NATSConfig is the embedded NATS server, or an existing one (External).
type NATSConfig struct {
	Listen string `toml:"listen"`
	// WebsocketListen, when set (e.g. "0.0.0.0:443"), also serves the
	// embedded NATS over WebSocket, for agents that can reach only HTTPS:
	// same TLS certificate and JWT auth as Listen. Advertise then lists
	// its wss:// URL after the tls:// one. Off by default.
	WebsocketListen string `toml:"websocket_listen"`
	// Advertise are the URLs written into enrollment bundles, in order of
	// preference, e.g. ["tls://hub.example.org:4222",
	// "wss://hub.example.org:443"]; agents fall back between them. Default with External: External.URLs.
	// May be empty only when Listen is a loopback address (tests, demo):
	// the hub then hands out its own address.
	Advertise []string `toml:"advertise"`
	// TLSCert and TLSKey are a PEM certificate and key for the client port.
	// Unset: the hub makes its own CA and server certificate in data_dir
	// for TLSHosts, and enrollment bundles pin that CA.
	TLSCert  string   `toml:"tls_cert"`
	TLSKey   string   `toml:"tls_key"`
	TLSHosts []string `toml:"tls_hosts"`
	// AllowPlaintext serves without TLS. Only for tests.
	AllowPlaintext bool `toml:"allow_plaintext"`
	// SyncAlways makes JetStream sync every write to disk, so a single-node
	// hub never loses an acknowledged request on power loss.
	SyncAlways bool `toml:"sync_always"`
	// Replicas of every stream and bucket: 1 embedded; 3 on a cluster.
	Replicas int `toml:"replicas"`
	// External, when set, uses an existing operator-mode NATS deployment
	// instead of the embedded server.
	External *ExternalNATS `toml:"external,omitempty"`
}

// ExternalNATS describes an existing operator-mode NATS deployment.
type ExternalNATS struct {
	URLs []string `toml:"urls"`
	// Credentials is the hub user's creds file, in the hub's own account.
	Credentials string `toml:"credentials"`
	// SigningKey is a file holding the seed of Account's scoped signing key
	// whose template grants agents their subjects (see natsauth).
	SigningKey string `toml:"signing_key"`
	// Account is the agents' account's public key ("A..."): not the hub's
	// account, which agents must never share.
	Account string `toml:"account"`
	// CA is a PEM bundle the servers' certificates chain to; empty = system roots.
	CA string `toml:"ca"`
}

// CAConfig is one ACME certificate authority.
type CAConfig struct {
	Name      string `toml:"name"`
	Directory string `toml:"directory"`
	Email     string `toml:"email"`
	EABKID    string `toml:"eab_kid"`
	EABHMAC   string `toml:"eab_hmac"`
	// CABundle is a PEM file of extra roots trusted for the directory's HTTPS.
	CABundle string `toml:"ca_bundle"`
	// KeyType is the ACME account key: ec256, ec384, rsa2048, rsa3072,
	// rsa4096 (package keytype; the agent's old ecdsa-p256 and ecdsa-p384
	// are read as ec256 and ec384, with a warning).
	KeyType string `toml:"key_type"`
	// RateLimits is [ca.limits]: the CA's rate limits the hub paces to.
	RateLimits CALimits `toml:"limits"`
}

// IssuanceConfig governs how the hub orders certificates.
type IssuanceConfig struct {
	// Concurrency is the number of orders in flight to start from, or
	// "auto"; the hub adapts it to the CA's answers and latency, up to
	// MaxConcurrency.
	Concurrency    Concurrency `toml:"concurrency"`
	MaxConcurrency int         `toml:"max_concurrency"`
	MaxNames       int         `toml:"max_names"` // names per certificate
	// Resolvers ("ip:port") are asked whether a name's challenge is
	// delegated to the hub before an order is placed.
	Resolvers       []string `toml:"resolvers"`
	CheckDelegation bool     `toml:"check_delegation"`
	// RenewFraction: without ARI, advise renewal when this fraction of the
	// certificate's lifetime remains.
	RenewFraction float64 `toml:"renew_fraction"`
	// RetryBase is the first wait after a failed order; each further
	// failure doubles it (with jitter), up to 4h.
	RetryBase Duration `toml:"retry_base"`
}

// AgentsConfig governs agent credentials and liveness.
type AgentsConfig struct {
	// CredsTTL is the lifetime of an agent's NATS user JWT; the hub
	// re-issues it well before it expires.
	CredsTTL Duration `toml:"creds_ttl"`
	// SilentAfter: an agent not heard from for this long raises an alert.
	SilentAfter Duration `toml:"silent_after"`
}

// DefaultConfig returns the defaults every file starts from. Domain,
// Advertise and the like have no sane default and are left empty.
func DefaultConfig() Config {
	return Config{
		DataDir:   DefaultDataDir,
		LogLevel:  "info",
		LogFormat: "text",
		DNS: DNSConfig{
			Listen:    DefaultDNSListen,
			TXTTTL:    DefaultTXTTTL,
			RateLimit: DefaultRateLimit,
		},
		NATS: NATSConfig{
			Listen:     DefaultNATSListen,
			SyncAlways: true,
			Replicas:   1,
		},
		CA: []CAConfig{{
			Name:      DefaultCAName,
			Directory: LetsEncryptProduction,
			KeyType:   DefaultKeyType,
		}},
		Issuance: IssuanceConfig{
			Concurrency:     ConcurrencyAuto,
			MaxConcurrency:  DefaultMaxConcurrency,
			MaxNames:        DefaultMaxNames,
			Resolvers:       append([]string(nil), DefaultResolvers...),
			CheckDelegation: true,
			RenewFraction:   DefaultRenewFraction,
			RetryBase:       Duration(DefaultRetryBase),
		},
		Agents: AgentsConfig{
			CredsTTL:    Duration(DefaultCredsTTL),
			SilentAfter: Duration(DefaultSilentAfter),
		},
		ACMEDNS: defaultACMEDNS(),
	}
}

// DefaultCA returns the first [[ca]], the one used when a request names none.
func (c Config) DefaultCA() CAConfig {
	if len(c.CA) == 0 {
		return CAConfig{}
	}
	return c.CA[0]
}

// CAByName returns the [[ca]] called name.
func (c Config) CAByName(name string) (CAConfig, bool) {
	for _, ca := range c.CA {
		if ca.Name == name {
			return ca, true
		}
	}
	return CAConfig{}, false
}

// AdvertiseURLs returns the URLs agents are told to connect to.
func (c Config) AdvertiseURLs() []string {
	if len(c.NATS.Advertise) == 0 && c.NATS.External != nil {
		return c.NATS.External.URLs
	}
	return c.NATS.Advertise
}

// SlogLevel returns log_level as a slog.Level (info when unknown; Validate
// rejects unknown levels).
func (c Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
