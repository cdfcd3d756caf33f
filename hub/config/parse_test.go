package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseCases are used by the table test and seed the fuzzer.
var parseCases = []struct {
	name    string
	doc     string
	wantErr []string // fragments of the error; nil = success
}{
	{"empty file gives defaults", "", nil},
	{"minimal", minimalTOML, nil},
	{"unknown top-level key", "datadir = \"/x\"\n" + minimalTOML, []string{`unknown key "datadir"`}},
	{"unknown key in table", "[dns]\ndomian = \"acme.example.org\"\n", []string{`unknown key "dns.domian"`}},
	{"unknown key in [[ca]]", "[[ca]]\nname = \"x\"\ndirectroy = \"https://x.example/dir\"\n", []string{`unknown key "ca.directroy"`}},
	{"unknown key in external", "[nats.external]\nurl = \"tls://x:4222\"\n", []string{`unknown key "nats.external.url"`}},
	{"several unknown keys", "foo = 1\n[agents]\nbar = 2\n", []string{`unknown keys "foo", "agents.bar"`}},
	{"unknown table", "[dsn]\ndomain = \"x\"\n", []string{`"dsn"`, `"dsn.domain"`}},
	{"duration as integer", "[agents]\ncreds_ttl = 5\n", []string{"agents.creds_ttl", "duration"}},
	{"duration with bad unit", "[agents]\nsilent_after = \"2 hours\"\n", []string{"silent_after", "duration"}},
	{"wrong type", "[issuance]\nconcurrency = \"four\"\n", []string{"concurrency", `"four"`, `"auto"`}},
	{"concurrency as a float", "[issuance]\nconcurrency = 4.5\n", []string{"concurrency", `"auto"`}},
	{"concurrency auto", minimalTOML + "\n[issuance]\nconcurrency = \"auto\"\n", nil},
	{"unknown key in [ca.limits]", "[[ca]]\nname = \"x\"\n[ca.limits]\nnew_orders = 3\n", []string{`unknown key "ca.limits.new_orders"`}},
	{"negative into uint", "[dns]\ntxt_ttl = -1\n", []string{"txt_ttl"}},
	{"syntax error", "[dns\ndomain = 1\n", []string{"parse config", "line 2", "table name"}},
	{"durations and lists", minimalTOML + "\n[agents]\ncreds_ttl = \"24h\"\nsilent_after = \"90m\"\n[issuance]\nresolvers = [\"127.0.0.1:5353\"]\n", nil},
	{"external cluster", "[nats.external]\nurls = [\"tls://a:4222\"]\ncredentials = \"hub.creds\"\n", nil},
}

func TestParseConfig(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseConfig() = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseConfig() = nil, want error with %q", tt.wantErr)
			}
			if !containsAll(err.Error(), tt.wantErr...) {
				t.Fatalf("ParseConfig() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigFillsDefaults(t *testing.T) {
	doc := `
[dns]
domain = "ACME.Example.org."
records = ["ns1.acme.example.org. A 198.51.100.7"]
[nats]
advertise = ["tls://hub.example.org:4222"]
[[ca]]
name = "staging"
directory = "https://acme-staging-v02.api.letsencrypt.org/directory"
[[ca]]
name = "prod"
directory = "https://acme-v02.api.letsencrypt.org/directory"
key_type = "rsa2048"
[issuance]
resolvers = ["127.0.0.1:5353"]
[agents]
creds_ttl = "24h"
`
	cfg, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"domain normalized", cfg.DNS.Domain, "acme.example.org"},
		{"nsname derived", cfg.DNS.NSName, "ns1.acme.example.org"},
		{"nsadmin derived", cfg.DNS.NSAdmin, "hostmaster.acme.example.org"},
		{"untouched default", cfg.DNS.Listen, DefaultDNSListen},
		{"ca list replaced, order kept", cfg.DefaultCA().Name, "staging"},
		{"ca count", len(cfg.CA), 2},
		{"ca key_type default", cfg.CA[0].KeyType, DefaultKeyType},
		{"ca key_type kept", cfg.CA[1].KeyType, "rsa2048"},
		{"resolvers replaced", strings.Join(cfg.Issuance.Resolvers, ","), "127.0.0.1:5353"},
		{"creds_ttl", cfg.Agents.CredsTTL.D(), 24 * time.Hour},
		{"silent_after default", cfg.Agents.SilentAfter.D(), DefaultSilentAfter},
		{"sync_always default", cfg.NATS.SyncAlways, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseConfigSizeLimit(t *testing.T) {
	doc := strings.Repeat("# padding\n", MaxFileSize/10+1)
	if _, err := ParseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("ParseConfig(oversized) = %v, want a size error", err)
	}
}

func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Run("relative paths resolve against the file", func(t *testing.T) {
		p := writeFile(t, dir, "hub.toml", minimalTOML+`
[nats.external]
urls = ["tls://nats.example.org:4222"]
credentials = "hub.creds"
signing_key = "/abs/sk.nk"
account = "`+testAccount+`"
[[ca]]
name = "test"
directory = "https://localhost:14000/dir"
ca_bundle = "certs/pebble.pem"
`)
		cfg, err := Load(p)
		if err != nil {
			t.Fatalf("Load() = %v", err)
		}
		if want := filepath.Join(dir, "hub.creds"); cfg.NATS.External.Credentials != want {
			t.Errorf("credentials = %q, want %q", cfg.NATS.External.Credentials, want)
		}
		if cfg.NATS.External.SigningKey != "/abs/sk.nk" {
			t.Errorf("absolute signing_key changed to %q", cfg.NATS.External.SigningKey)
		}
		if want := filepath.Join(dir, "certs/pebble.pem"); cfg.CA[0].CABundle != want {
			t.Errorf("ca_bundle = %q, want %q", cfg.CA[0].CABundle, want)
		}
		if cfg.DataDir != "/var/lib/certfleet-hub" {
			t.Errorf("data_dir = %q", cfg.DataDir)
		}
	})
	t.Run("relative data_dir", func(t *testing.T) {
		p := writeFile(t, dir, "rel.toml", strings.Replace(minimalTOML, `"/var/lib/certfleet-hub"`, `"state"`, 1))
		cfg, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "state"); cfg.DataDir != want {
			t.Errorf("data_dir = %q, want %q", cfg.DataDir, want)
		}
	})
	t.Run("invalid file names path and field", func(t *testing.T) {
		p := writeFile(t, dir, "bad.toml", "[dns]\ndomain = \"nodots\"\n[nats]\nadvertise = [\"tls://h:4222\"]\n")
		_, err := Load(p)
		if err == nil || !containsAll(err.Error(), p, "dns.domain: must be a DNS name") {
			t.Fatalf("Load() = %v", err)
		}
		if got := fieldNames(err); !slices.Equal(got, []string{"dns.domain"}) {
			t.Errorf("FieldErrors through Load's wrapping = %v", got)
		}
	})
	t.Run("unknown key names path and key", func(t *testing.T) {
		p := writeFile(t, dir, "typo.toml", minimalTOML+"\n[issuance]\nconcurency = 8\n")
		_, err := Load(p)
		if err == nil || !containsAll(err.Error(), p, `"issuance.concurency"`) {
			t.Fatalf("Load() = %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.toml"))
		if err == nil || !os.IsNotExist(unwrapAll(err)) {
			t.Fatalf("Load(missing) = %v, want a not-exist error", err)
		}
	})
}

func unwrapAll(err error) error {
	for {
		type unwrapper interface{ Unwrap() error }
		u, ok := err.(unwrapper)
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
