package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
)

// parseCases are used by the table test and seed the fuzzer.
var parseCases = []struct {
	name    string
	doc     string
	kind    error    // the kind of every problem; nil = success
	wantErr []string // fragments of the error
}{
	{"empty file gives defaults", "", nil, nil},
	{"minimal", minimalTOML, nil, nil},
	{"unknown top-level key", "datadir = \"/x\"\n" + minimalTOML, configfile.ErrUnknownKey,
		[]string{`parse config: datadir (line 1): unknown key: did you mean "data_dir"?`}},
	{"unknown key in table", "[dns]\ndomian = \"acme.example.org\"\n", configfile.ErrUnknownKey,
		[]string{`dns.domian (line 2): unknown key: did you mean "dns.domain"?`}},
	{"unknown key in [[ca]]", "[[ca]]\nname = \"x\"\ndirectroy = \"https://x.example/dir\"\n", configfile.ErrUnknownKey,
		[]string{`ca.directroy (line 3): unknown key: did you mean "ca.directory"?`}},
	{"unknown key in external", "[nats.external]\nurl = \"tls://x:4222\"\n", configfile.ErrUnknownKey,
		[]string{`nats.external.url (line 2): unknown key: did you mean "nats.external.urls"?`}},
	{"key under the wrong table", "[dns]\nadvertise = [\"tls://x:4222\"]\n", configfile.ErrUnknownKey,
		[]string{`dns.advertise (line 2): unknown key: did you mean "nats.advertise"?`}},
	{"several unknown keys", "foo = 1\n[agents]\nbar = 2\n", configfile.ErrUnknownKey,
		[]string{"foo (line 1): unknown key\nagents.bar (line 3): unknown key"}},
	{"unknown table, not each of its keys", "[dsn]\ndomain = \"x\"\n", configfile.ErrUnknownKey,
		[]string{`parse config: dsn (line 1): unknown key: did you mean "dns"?`}},
	{"duration as integer", "[agents]\ncreds_ttl = 5\n", configfile.ErrInvalid, []string{"agents.creds_ttl (line 2)", "duration"}},
	{"duration with bad unit", "[agents]\nsilent_after = \"2 hours\"\n", configfile.ErrInvalid, []string{"agents.silent_after (line 2)", "duration"}},
	{"wrong type", "[issuance]\nmax_names = \"four\"\n", configfile.ErrInvalid, []string{"issuance.max_names (line 2)", "incompatible types"}},
	{"concurrency neither number nor auto", "[issuance]\nconcurrency = \"four\"\n", configfile.ErrInvalid, []string{"concurrency", `"four"`, `"auto"`}},
	{"concurrency as a float", "[issuance]\nconcurrency = 4.5\n", configfile.ErrInvalid, []string{"concurrency", `"auto"`}},
	{"concurrency auto", minimalTOML + "\n[issuance]\nconcurrency = \"auto\"\n", nil, nil},
	{"unknown key in [ca.limits]", "[[ca]]\nname = \"x\"\n[ca.limits]\nnew_orders = 3\n", configfile.ErrUnknownKey, []string{"ca.limits.new_orders (line 4): unknown key"}},
	{"negative into uint", "[dns]\ntxt_ttl = -1\n", configfile.ErrInvalid, []string{"dns.txt_ttl (line 2)", "out of range"}},
	{"syntax error", "[dns\ndomain = 1\n", configfile.ErrSyntax, []string{"parse config: line 2: syntax error", "table name"}},
	{"durations and lists", minimalTOML + "\n[agents]\ncreds_ttl = \"24h\"\nsilent_after = \"90m\"\n[issuance]\nresolvers = [\"127.0.0.1:5353\"]\n", nil, nil},
	{"external cluster", "[nats.external]\nurls = [\"tls://a:4222\"]\ncredentials = \"hub.creds\"\n", nil, nil},
	{"agent's old key_type spelling", minimalTOML + "[[ca]]\nname = \"le\"\ndirectory = \"https://acme.example/dir\"\nkey_type = \"ecdsa-p384\"\n", nil, nil},
}

func TestParseConfig(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			if tt.kind == nil {
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
			fes := configfile.FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("ParseConfig() = %q: no FieldError in it", err)
			}
			for _, fe := range fes {
				if fe.Kind != tt.kind {
					t.Errorf("%q: kind %v, want %v", fe, fe.Kind, tt.kind)
				}
			}
		})
	}
}

// TestParseConfigDeprecatedKeyType: the agent's old spellings are read as
// today's, with one warning per field naming the new spelling.
func TestParseConfigDeprecatedKeyType(t *testing.T) {
	doc := minimalTOML + `
[[ca]]
name = "a"
directory = "https://acme.example/dir"
key_type = "ecdsa-p256"
[[ca]]
name = "b"
directory = "https://acme.example/dir"
key_type = "rsa2048"
[[ca]]
name = "c"
directory = "https://acme.example/dir"
key_type = "ecdsa-p384"
`
	cfg, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if got := []string{cfg.CA[0].KeyType, cfg.CA[1].KeyType, cfg.CA[2].KeyType}; !slices.Equal(got, []string{"ec256", "rsa2048", "ec384"}) {
		t.Fatalf("key types = %v", got)
	}
	var got []string
	for _, w := range cfg.Deprecations() {
		if !errors.Is(w, configfile.ErrDeprecated) {
			t.Errorf("%v is not ErrDeprecated", w)
		}
		got = append(got, w.Error())
	}
	want := []string{`ca[0].key_type: "ecdsa-p256": deprecated: write "ec256" instead`, `ca[2].key_type: "ecdsa-p384": deprecated: write "ec384" instead`}
	if !slices.Equal(got, want) {
		t.Fatalf("Deprecations() = %q, want %q", got, want)
	}
	// What ParseConfig writes back out is today's spelling: no warnings.
	again, err := ParseConfig(encode(t, cfg))
	if err != nil || len(again.Deprecations()) != 0 {
		t.Fatalf("re-parse: %v, %v", again.Deprecations(), err)
	}
	if len(validConfig(t).Deprecations()) != 0 {
		t.Error("a config in today's spelling has deprecations")
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
	doc := strings.Repeat("# padding\n", configfile.MaxSize/10+1)
	if _, err := ParseConfig([]byte(doc)); !errors.Is(err, configfile.ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("ParseConfig(oversized) = %v, want a size error", err)
	}
	p := writeFile(t, t.TempDir(), "big.toml", doc)
	if _, err := Load(p); !errors.Is(err, configfile.ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Load(oversized) = %v, want a size error naming the file", err)
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
		if err == nil || !containsAll(err.Error(), p, "dns.domain: not a DNS name") {
			t.Fatalf("Load() = %v", err)
		}
		if got := fieldNames(err); !slices.Equal(got, []string{"dns.domain"}) {
			t.Errorf("FieldErrors through Load's wrapping = %v", got)
		}
	})
	t.Run("unknown key names path and key", func(t *testing.T) {
		p := writeFile(t, dir, "typo.toml", minimalTOML+"\n[issuance]\nconcurency = 8\n")
		_, err := Load(p)
		if !errors.Is(err, configfile.ErrUnknownKey) || !containsAll(err.Error(), p, `issuance.concurency (line 9): unknown key: did you mean "issuance.concurrency"?`) {
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
