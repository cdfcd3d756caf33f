package config

import (
	"slices"
	"strings"
	"testing"
)

func TestStarterConfig(t *testing.T) {
	tests := []struct {
		name  string
		opts  StarterOptions
		check func(t *testing.T, c Config)
	}{
		{
			name: "domain only",
			opts: StarterOptions{Domain: "Acme.Example.org"},
			check: func(t *testing.T, c Config) {
				if c.DNS.Domain != "acme.example.org" || c.DNS.NSName != "ns1.acme.example.org" {
					t.Errorf("dns = %+v", c.DNS)
				}
				if !slices.Equal(c.NATS.Advertise, []string{"tls://ns1.acme.example.org:4222"}) {
					t.Errorf("advertise = %v", c.NATS.Advertise)
				}
				if c.DataDir != DefaultDataDir || c.DefaultCA().Directory != LetsEncryptProduction {
					t.Errorf("defaults not kept: data_dir %q, ca %q", c.DataDir, c.DefaultCA().Directory)
				}
			},
		},
		{
			name: "everything",
			opts: StarterOptions{
				DataDir: "/srv/hub", Domain: "acme.example.org", NSAdmin: "dns@example.org",
				PublicHost: "hub.example.org", PublicIPs: []string{"198.51.100.7", "2001:db8::7"},
				Email: "ops@example.org", CAName: "staging", CADirectory: LetsEncryptStaging,
			},
			check: func(t *testing.T, c Config) {
				want := []string{"ns1.acme.example.org. 3600 A 198.51.100.7", "ns1.acme.example.org. 3600 AAAA 2001:db8::7"}
				if !slices.Equal(c.DNS.Records, want) {
					t.Errorf("records = %q, want %q", c.DNS.Records, want)
				}
				if !slices.Equal(c.NATS.TLSHosts, []string{"hub.example.org", "198.51.100.7", "2001:db8::7"}) {
					t.Errorf("tls_hosts = %v", c.NATS.TLSHosts)
				}
				ca := c.DefaultCA()
				if ca.Name != "staging" || ca.Directory != LetsEncryptStaging || ca.Email != "ops@example.org" {
					t.Errorf("ca = %+v", ca)
				}
				if c.DataDir != "/srv/hub" || c.DNS.NSAdmin != "dns@example.org" {
					t.Errorf("data_dir %q, nsadmin %q", c.DataDir, c.DNS.NSAdmin)
				}
			},
		},
		{
			name: "name server outside the zone gets no glue",
			opts: StarterOptions{Domain: "acme.example.org", NSName: "ns.example.net", PublicIPs: []string{"198.51.100.7"}},
			check: func(t *testing.T, c Config) {
				if len(c.DNS.Records) != 0 {
					t.Errorf("records = %q, want none", c.DNS.Records)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := StarterConfig(tt.opts)
			cfg, err := ParseConfig([]byte(doc))
			if err != nil {
				t.Fatalf("ParseConfig(starter) = %v\n%s", err, doc)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate(starter) = %v\n%s", err, doc)
			}
			tt.check(t, cfg)
			// Everything not chosen by opts is the default.
			def := DefaultConfig()
			if cfg.Issuance.RenewFraction != def.Issuance.RenewFraction ||
				cfg.Agents != def.Agents ||
				!slices.Equal(cfg.Issuance.Resolvers, def.Issuance.Resolvers) ||
				cfg.NATS.SyncAlways != def.NATS.SyncAlways {
				t.Errorf("starter drifted from DefaultConfig:\n%s", doc)
			}
		})
	}
}

func TestStarterConfigWithoutDomainFailsOnDomain(t *testing.T) {
	cfg, err := ParseConfig([]byte(StarterConfig(StarterOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	got := fieldNames(cfg.Validate())
	if !slices.Contains(got, "dns.domain") {
		t.Fatalf("fields = %v, want dns.domain among them", got)
	}
}

func TestStarterConfigQuotesStrings(t *testing.T) {
	odd := "o\"p\\s\t\x01@example.org"
	cfg, err := ParseConfig([]byte(StarterConfig(StarterOptions{Domain: "acme.example.org", Email: odd})))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultCA().Email != odd {
		t.Fatalf("email = %q, want %q", cfg.DefaultCA().Email, odd)
	}
}

func TestStarterConfigIsCommented(t *testing.T) {
	doc := StarterConfig(StarterOptions{Domain: "acme.example.org"})
	for _, want := range []string{"# ", LetsEncryptStaging, "[nats.external]", "eab_kid"} {
		if !strings.Contains(doc, want) {
			t.Errorf("starter lacks %q", want)
		}
	}
}
