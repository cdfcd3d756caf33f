package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/internal/configfile"
)

// testAccount is a real account public key (valid checksum).
var testAccount = func() string {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		panic(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		panic(err)
	}
	return pub
}()

func externalNATS() *ExternalNATS {
	return &ExternalNATS{
		URLs:        []string{"tls://nats1.example.org:4222"},
		Credentials: "/etc/certfleet-hub/hub.creds",
		SigningKey:  "/etc/certfleet-hub/sk.nk",
		Account:     testAccount,
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string // the one field the error must name
		kind   error  // its kind
		detail string // and a fragment of the problem
	}{
		{"data_dir empty", func(c *Config) { c.DataDir = "" }, "data_dir", configfile.ErrRequired, "required"},
		{"log_level unknown", func(c *Config) { c.LogLevel = "verbose" }, "log_level", configfile.ErrInvalid, "verbose"},
		{"log_format unknown", func(c *Config) { c.LogFormat = "xml" }, "log_format", configfile.ErrInvalid, "xml"},
		{"dns.listen no port", func(c *Config) { c.DNS.Listen = "53" }, "dns.listen", configfile.ErrInvalid, "host:port"},
		{"dns.listen port too big", func(c *Config) { c.DNS.Listen = ":65536" }, "dns.listen", configfile.ErrInvalid, "65536"},
		{"dns.listen bad host", func(c *Config) { c.DNS.Listen = "bad_host:53" }, "dns.listen", configfile.ErrInvalid, "bad_host"},
		{"dns.domain missing", func(c *Config) { c.DNS.Domain = "" }, "dns.domain", configfile.ErrRequired, "required"},
		{"dns.domain single label", func(c *Config) { c.DNS.Domain = "localzone" }, "dns.domain", configfile.ErrInvalid, "not a DNS name"},
		{"dns.domain wildcard", func(c *Config) { c.DNS.Domain = "*.example.org" }, "dns.domain", configfile.ErrInvalid, "wildcard"},
		{"dns.domain underscore", func(c *Config) { c.DNS.Domain = "ex_ample.org" }, "dns.domain", configfile.ErrInvalid, "not a DNS name"},
		{"dns.domain IP", func(c *Config) { c.DNS.Domain = "198.51.100.7" }, "dns.domain", configfile.ErrInvalid, "IP address"},
		{"dns.nsname bad", func(c *Config) { c.DNS.NSName = "ns1..example.org" }, "dns.nsname", configfile.ErrInvalid, "not a DNS name"},
		{"dns.nsname empty", func(c *Config) { c.DNS.NSName = "" }, "dns.nsname", configfile.ErrRequired, "required"},
		{"dns.nsadmin bad mail", func(c *Config) { c.DNS.NSAdmin = "host master@example.org" }, "dns.nsadmin", configfile.ErrInvalid, "mail address"},
		{"dns.nsadmin bad mail domain", func(c *Config) { c.DNS.NSAdmin = "hostmaster@example" }, "dns.nsadmin", configfile.ErrInvalid, "mail domain"},
		{"dns.nsadmin bad name", func(c *Config) { c.DNS.NSAdmin = "-x.example.org" }, "dns.nsadmin", configfile.ErrInvalid, "hyphen"},
		{"dns.records garbage", func(c *Config) { c.DNS.Records = []string{"acme.example.org. A 198.51.100.7", "garbage"} }, "dns.records[1]", configfile.ErrInvalid, "garbage"},
		{"dns.records bad address", func(c *Config) { c.DNS.Records = []string{"ns1.acme.example.org. A 300.1.1.1"} }, "dns.records[0]", configfile.ErrInvalid, "300.1.1.1"},
		{"dns.records outside zone", func(c *Config) { c.DNS.Records = []string{"www.example.net. A 198.51.100.7"} }, "dns.records[0]", configfile.ErrInvalid, "outside dns.domain"},
		{"dns.records relative", func(c *Config) { c.DNS.Records = []string{"ns1 A 198.51.100.7"} }, "dns.records[0]", configfile.ErrInvalid, "absolute names"},
		{"dns.records comment only", func(c *Config) { c.DNS.Records = []string{"; nothing"} }, "dns.records[0]", configfile.ErrInvalid, "not an empty line or comment"},
		{"dns.txt_ttl too long", func(c *Config) { c.DNS.TXTTTL = 86401 }, "dns.txt_ttl", configfile.ErrOutOfRange, "86400"},
		{"dns.rate_limit negative", func(c *Config) { c.DNS.RateLimit = -1 }, "dns.rate_limit", configfile.ErrOutOfRange, "-1"},
		{"nats.listen bad", func(c *Config) { c.NATS.Listen = "4222" }, "nats.listen", configfile.ErrInvalid, "host:port"},
		{"nats.advertise missing", func(c *Config) { c.NATS.Advertise = nil }, "nats.advertise", configfile.ErrRequired, "required"},
		{"nats.advertise missing on a public address", func(c *Config) {
			c.NATS.Advertise, c.NATS.Listen = nil, "198.51.100.7:4222"
		}, "nats.advertise", configfile.ErrRequired, "loopback"},
		{"nats.advertise http", func(c *Config) { c.NATS.Advertise = []string{"https://hub.example.org"} }, "nats.advertise[0]", configfile.ErrInvalid, "tls://"},
		{"nats.advertise path", func(c *Config) { c.NATS.Advertise = []string{"tls://hub.example.org:4222/x"} }, "nats.advertise[0]", configfile.ErrInvalid, "host and port only"},
		{"nats.advertise bad port", func(c *Config) { c.NATS.Advertise = []string{"tls://hub.example.org:0"} }, "nats.advertise[0]", configfile.ErrInvalid, "port"},
		{"nats.websocket_listen bad", func(c *Config) { c.NATS.WebsocketListen = "443" }, "nats.websocket_listen", configfile.ErrInvalid, "host:port"},
		{"nats.websocket_listen with external", func(c *Config) {
			c.NATS.External, c.NATS.Replicas, c.NATS.WebsocketListen = externalNATS(), 1, ":443"
		}, "nats.websocket_listen", configfile.ErrConflict, "embedded"},
		{"nats.advertise bad host", func(c *Config) { c.NATS.Advertise = []string{"tls://hub_1.example.org:4222"} }, "nats.advertise[0]", configfile.ErrInvalid, "hub_1"},
		{"nats.tls_key missing", func(c *Config) { c.NATS.TLSCert = "/etc/hub/cert.pem" }, "nats.tls_key", configfile.ErrRequired, "tls_cert"},
		{"nats.tls_cert missing", func(c *Config) { c.NATS.TLSKey = "/etc/hub/key.pem" }, "nats.tls_cert", configfile.ErrRequired, "tls_key"},
		{"nats.allow_plaintext with cert", func(c *Config) {
			c.NATS.TLSCert, c.NATS.TLSKey, c.NATS.AllowPlaintext = "/c.pem", "/k.pem", true
		}, "nats.allow_plaintext", configfile.ErrConflict, "tls_cert"},
		{"nats.tls_hosts bad", func(c *Config) { c.NATS.TLSHosts = []string{"ok.example.org", "not ok"} }, "nats.tls_hosts[1]", configfile.ErrInvalid, "not ok"},
		{"nats.replicas embedded", func(c *Config) { c.NATS.Replicas = 3 }, "nats.replicas", configfile.ErrOutOfRange, "single node"},
		{"nats.replicas external", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.Replicas = 7 }, "nats.replicas", configfile.ErrOutOfRange, "1 to 5"},
		{"nats.external.urls missing", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.External.URLs = nil }, "nats.external.urls", configfile.ErrRequired, "required"},
		{"nats.external.urls bad", func(c *Config) {
			c.NATS.External = externalNATS()
			c.NATS.External.URLs = []string{"nats1.example.org:4222"}
		}, "nats.external.urls[0]", configfile.ErrInvalid, "URL"},
		{"nats.external.credentials missing", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.External.Credentials = "" }, "nats.external.credentials", configfile.ErrRequired, "required"},
		{"nats.external.signing_key missing", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.External.SigningKey = "" }, "nats.external.signing_key", configfile.ErrRequired, "required"},
		{"nats.external.account bad", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.External.Account = "UABC" }, "nats.external.account", configfile.ErrInvalid, "public nkey"},
		{"ca none", func(c *Config) { c.CA = nil }, "ca", configfile.ErrRequired, "at least one"},
		{"ca name empty", func(c *Config) { c.CA[0].Name = "" }, "ca[0].name", configfile.ErrRequired, "required"},
		{"ca name bad", func(c *Config) { c.CA[0].Name = "Lets Encrypt" }, "ca[0].name", configfile.ErrInvalid, "Lets Encrypt"},
		{"ca name duplicate", func(c *Config) { c.CA = append(c.CA, c.CA[0]) }, "ca[1].name", configfile.ErrDuplicate, "already used by ca[0]"},
		{"ca directory http", func(c *Config) { c.CA[0].Directory = "http://acme.example.org/dir" }, "ca[0].directory", configfile.ErrInvalid, "https://"},
		{"ca directory empty", func(c *Config) { c.CA[0].Directory = "" }, "ca[0].directory", configfile.ErrRequired, "https://"},
		{"ca email bad", func(c *Config) { c.CA[0].Email = "Ops <ops@example.org>" }, "ca[0].email", configfile.ErrInvalid, "plain mail address"},
		{"ca eab_hmac missing", func(c *Config) { c.CA[0].EABKID = "kid-1" }, "ca[0].eab_hmac", configfile.ErrRequired, "required"},
		{"ca eab_kid missing", func(c *Config) { c.CA[0].EABHMAC = "c2VjcmV0" }, "ca[0].eab_kid", configfile.ErrRequired, "required"},
		{"ca eab_hmac not base64url", func(c *Config) { c.CA[0].EABKID, c.CA[0].EABHMAC = "kid-1", "not base64!" }, "ca[0].eab_hmac", configfile.ErrInvalid, "base64url"},
		{"ca key_type bad", func(c *Config) { c.CA[0].KeyType = "dsa" }, "ca[0].key_type", configfile.ErrInvalid, "ec256"},
		{"issuance.concurrency zero", func(c *Config) { c.Issuance.Concurrency = Fixed(0) }, "issuance.concurrency", configfile.ErrOutOfRange, `"auto" or 1 to 256`},
		{"issuance.concurrency above max", func(c *Config) { c.Issuance.Concurrency = Fixed(65) }, "issuance.concurrency", configfile.ErrConflict, "max_concurrency (64)"},
		{"issuance.max_concurrency zero", func(c *Config) { c.Issuance.MaxConcurrency = 0 }, "issuance.max_concurrency", configfile.ErrOutOfRange, "1 to 256"},
		{"issuance.max_concurrency too high", func(c *Config) { c.Issuance.MaxConcurrency = 1000 }, "issuance.max_concurrency", configfile.ErrOutOfRange, "1 to 256"},
		{"ca limits orders negative", func(c *Config) { c.CA[0].RateLimits.NewOrdersPer3h = ptr(-1) }, "ca[0].limits.new_orders_per_3h", configfile.ErrOutOfRange, "0 (no limit)"},
		{"ca limits domain negative", func(c *Config) { c.CA[0].RateLimits.CertsPerDomainPerWeek = ptr(-5) }, "ca[0].limits.certs_per_domain_per_week", configfile.ErrOutOfRange, "0 (no limit)"},
		{"ca limits reserve all", func(c *Config) { c.CA[0].RateLimits.RenewalReserve = ptr(1.0) }, "ca[0].limits.renewal_reserve", configfile.ErrOutOfRange, "0 to 0.9"},
		{"issuance.max_names too many", func(c *Config) { c.Issuance.MaxNames = 101 }, "issuance.max_names", configfile.ErrOutOfRange, "1 to 100"},
		{"issuance.resolvers no port", func(c *Config) { c.Issuance.Resolvers = []string{"1.1.1.1"} }, "issuance.resolvers[0]", configfile.ErrInvalid, "ip:port"},
		{"issuance.resolvers name", func(c *Config) { c.Issuance.Resolvers = []string{"dns.google:53"} }, "issuance.resolvers[0]", configfile.ErrInvalid, "ip:port"},
		{"issuance.resolvers none", func(c *Config) { c.Issuance.Resolvers = nil }, "issuance.resolvers", configfile.ErrRequired, "check_delegation"},
		{"issuance.renew_fraction one", func(c *Config) { c.Issuance.RenewFraction = 1 }, "issuance.renew_fraction", configfile.ErrOutOfRange, "between 0 and 1"},
		{"issuance.renew_fraction zero", func(c *Config) { c.Issuance.RenewFraction = 0 }, "issuance.renew_fraction", configfile.ErrOutOfRange, "between 0 and 1"},
		{"agents.creds_ttl zero", func(c *Config) { c.Agents.CredsTTL = 0 }, "agents.creds_ttl", configfile.ErrOutOfRange, "at least"},
		{"agents.creds_ttl over a year", func(c *Config) { c.Agents.CredsTTL = Duration(400 * 24 * time.Hour) }, "agents.creds_ttl", configfile.ErrOutOfRange, "at most"},
		{"issuance.retry_base too small", func(c *Config) { c.Issuance.RetryBase = Duration(10 * time.Millisecond) }, "issuance.retry_base", configfile.ErrOutOfRange, "between"},
		{"agents.silent_after short", func(c *Config) { c.Agents.SilentAfter = Duration(time.Second) }, "agents.silent_after", configfile.ErrOutOfRange, "at least 1m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %s", tt.field)
			}
			if got := fieldNames(err); !slices.Equal(got, []string{tt.field}) {
				t.Fatalf("Validate() named fields %v, want exactly [%s]; error: %v", got, tt.field, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Validate() = %q, want kind %v", err, tt.kind)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Validate() = %q, want %q prefix and %q in it", err, tt.field+": ", tt.detail)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"minimal", func(c *Config) {}},
		{"upper case domain with dot", func(c *Config) { c.DNS.Domain = "Acme.Example.ORG." }},
		{"nsadmin as mail", func(c *Config) { c.DNS.NSAdmin = "hostmaster@example.org" }},
		{"records with glue and TTL", func(c *Config) {
			c.DNS.Records = []string{"ns1.acme.example.org. 3600 IN A 198.51.100.7", "ns1.acme.example.org. AAAA 2001:db8::7", "acme.example.org. TXT \"hello\""}
		}},
		{"plaintext for tests", func(c *Config) { c.NATS.AllowPlaintext = true; c.NATS.Advertise = []string{"nats://127.0.0.1:4222"} }},
		{"own certificate", func(c *Config) { c.NATS.TLSCert, c.NATS.TLSKey = "/etc/hub/cert.pem", "/etc/hub/key.pem" }},
		{"tls_hosts names and IPs", func(c *Config) {
			c.NATS.TLSHosts = []string{"localhost", "hub.example.org", "198.51.100.7", "2001:db8::7"}
		}},
		{"listen on port 0", func(c *Config) { c.DNS.Listen, c.NATS.Listen = "127.0.0.1:0", "[::1]:0" }},
		{"no advertise on loopback v4", func(c *Config) { c.NATS.Advertise, c.NATS.Listen = nil, "127.0.0.1:4222" }},
		{"no advertise on loopback v6", func(c *Config) { c.NATS.Advertise, c.NATS.Listen = nil, "[::1]:0" }},
		{"no advertise on localhost", func(c *Config) { c.NATS.Advertise, c.NATS.Listen = nil, "localhost:4222" }},
		{"external without advertise", func(c *Config) { c.NATS.External = externalNATS(); c.NATS.Advertise = nil; c.NATS.Replicas = 3 }},
		{"two CAs with EAB", func(c *Config) {
			c.CA = append(c.CA, CAConfig{Name: "zerossl", Directory: "https://acme.zerossl.com/v2/DV90", EABKID: "kid", EABHMAC: "c2VjcmV0LWtleQ", KeyType: "rsa2048", Email: "ops@example.org"})
		}},
		{"no delegation check, no resolvers", func(c *Config) { c.Issuance.CheckDelegation = false; c.Issuance.Resolvers = nil }},
		{"IPv6 resolver", func(c *Config) { c.Issuance.Resolvers = []string{"[2606:4700:4700::1111]:53"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.mutate(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := validConfig(t)
	cfg.LogLevel = "loud"
	cfg.Issuance.Concurrency = Fixed(-1)
	cfg.CA[0].KeyType = ""
	got := fieldNames(cfg.Validate())
	want := []string{"log_level", "ca[0].key_type", "issuance.concurrency"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
}

func TestValidateNeverEchoesEABSecret(t *testing.T) {
	cfg := validConfig(t)
	cfg.CA[0].EABKID, cfg.CA[0].EABHMAC = "kid", "s3cr3t!!value"
	err := cfg.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("Validate() = %v: want an error without the HMAC key", err)
	}
}

func TestDefaults(t *testing.T) {
	d := DefaultConfig()
	checks := []struct {
		name      string
		got, want any
	}{
		{"dns.listen", d.DNS.Listen, ":53"},
		{"nats.listen", d.NATS.Listen, ":4222"},
		{"nats.sync_always", d.NATS.SyncAlways, true},
		{"issuance.concurrency", d.Issuance.Concurrency, ConcurrencyAuto},
		{"issuance.concurrency start", d.Issuance.Concurrency.Start(d.Issuance.MaxConcurrency), 4},
		{"issuance.max_concurrency", d.Issuance.MaxConcurrency, 64},
		{"default ca limits", d.DefaultCA().Limits(), Limits{NewOrdersPer3h: 300, CertsPerDomainPerWeek: 50, RenewalsExempt: true, RenewalReserve: 0.2}},
		{"issuance.max_names", d.Issuance.MaxNames, 100},
		{"issuance.check_delegation", d.Issuance.CheckDelegation, true},
		{"agents.creds_ttl", d.Agents.CredsTTL.D(), 720 * time.Hour},
		{"agents.silent_after", d.Agents.SilentAfter.D(), 2 * time.Hour},
		{"default ca", d.DefaultCA().Directory, LetsEncryptProduction},
		{"resolvers", strings.Join(d.Issuance.Resolvers, ","), "1.1.1.1:53,8.8.8.8:53,9.9.9.9:53"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// DefaultConfig must hand out fresh slices: callers mutate them.
	d.Issuance.Resolvers[0] = "changed"
	if DefaultConfig().Issuance.Resolvers[0] == "changed" {
		t.Error("DefaultConfig shares its resolvers slice")
	}
}

func TestHelpers(t *testing.T) {
	cfg := validConfig(t)
	cfg.CA = append(cfg.CA, CAConfig{Name: "staging", Directory: LetsEncryptStaging})
	if ca, ok := cfg.CAByName("staging"); !ok || ca.Directory != LetsEncryptStaging {
		t.Errorf("CAByName(staging) = %v, %v", ca, ok)
	}
	if _, ok := cfg.CAByName("nope"); ok {
		t.Error("CAByName(nope) found something")
	}
	if got := cfg.DefaultCA().Name; got != DefaultCAName {
		t.Errorf("DefaultCA().Name = %q", got)
	}
	cfg.NATS.Advertise = []string{"tls://hub.example.org:4222", "tls://198.51.100.7:4222", "tls://hub.example.org:4223"}
	if got := cfg.TLSHostNames(); !slices.Equal(got, []string{"hub.example.org", "198.51.100.7"}) {
		t.Errorf("TLSHostNames() = %v", got)
	}
	cfg.NATS.Advertise = nil
	cfg.NATS.External = externalNATS()
	if got := cfg.AdvertiseURLs(); !slices.Equal(got, cfg.NATS.External.URLs) {
		t.Errorf("AdvertiseURLs() with external = %v", got)
	}
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		cfg.LogLevel = lvl
		if got := cfg.SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%s) = %s", lvl, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestConcurrencyAndLimitsParse(t *testing.T) {
	for _, tc := range []struct {
		name      string
		doc       string
		start     int
		maxN      int
		limits    Limits
		wantField string // a Validate error naming this field; "" = valid
	}{
		{"defaults", "", 4, 64, Limits{300, 50, true, 0.2}, ""},
		{"auto with a low max", "[issuance]\nconcurrency = \"auto\"\nmax_concurrency = 2\n", 2, 2, Limits{300, 50, true, 0.2}, ""},
		{"a number is the start", "[issuance]\nconcurrency = 8\n", 8, 64, Limits{300, 50, true, 0.2}, ""},
		{"fixed", "[issuance]\nconcurrency = 4\nmax_concurrency = 4\n", 4, 4, Limits{300, 50, true, 0.2}, ""},
		{"start above max", "[issuance]\nconcurrency = 100\n", 100, 64, Limits{300, 50, true, 0.2}, "issuance.concurrency"},
		{"staging limits", "[[ca]]\nname = \"le\"\ndirectory = \"" + LetsEncryptStaging + "\"\n", 4, 64, Limits{1500, 30000, true, 0.2}, ""},
		{"other CA: no limits", "[[ca]]\nname = \"own\"\ndirectory = \"https://ca.example.org/dir\"\n", 4, 64, Limits{0, 0, false, 0.2}, ""},
		{"other CA with limits", "[[ca]]\nname = \"own\"\ndirectory = \"https://ca.example.org/dir\"\n[ca.limits]\nnew_orders_per_3h = 100\nrenewal_reserve = 0.3\n", 4, 64, Limits{100, 0, false, 0.3}, ""},
		{"LE limit turned off", "[[ca]]\nname = \"le\"\ndirectory = \"" + LetsEncryptProduction + "\"\n[ca.limits]\ncerts_per_domain_per_week = 0\n", 4, 64, Limits{300, 0, true, 0.2}, ""},
		{"negative limit", "[[ca]]\nname = \"own\"\ndirectory = \"https://ca.example.org/dir\"\n[ca.limits]\nnew_orders_per_3h = -3\n", 4, 64, Limits{-3, 0, false, 0.2}, "ca[0].limits.new_orders_per_3h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(minimalTOML + tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Issuance.Concurrency.Start(cfg.Issuance.MaxConcurrency); got != tc.start {
				t.Errorf("start %d, want %d", got, tc.start)
			}
			if cfg.Issuance.MaxConcurrency != tc.maxN {
				t.Errorf("max %d, want %d", cfg.Issuance.MaxConcurrency, tc.maxN)
			}
			if got := cfg.DefaultCA().Limits(); got != tc.limits {
				t.Errorf("limits %+v, want %+v", got, tc.limits)
			}
			got := fieldNames(cfg.Validate())
			switch {
			case tc.wantField == "" && len(got) > 0:
				t.Errorf("Validate: %v", got)
			case tc.wantField != "" && !slices.Equal(got, []string{tc.wantField}):
				t.Errorf("Validate fields %v, want [%s]", got, tc.wantField)
			}
		})
	}
}
