package dnsserver

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(c *Config)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"all addresses", func(c *Config) { c.Listen = ":53" }, ""},
		{"IPv6 listen", func(c *Config) { c.Listen = "[::1]:5353" }, ""},
		{"admin as a name", func(c *Config) { c.NSAdmin = "hostmaster.example.org" }, ""},
		{"admin empty is defaulted", func(c *Config) { c.NSAdmin = "" }, ""},
		{"listen missing", func(c *Config) { c.Listen = "" }, "dns.listen: missing"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "dns.listen:"},
		{"listen host name", func(c *Config) { c.Listen = "localhost:53" }, "dns.listen: \"localhost:53\": host must be an IP address"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, "dns.listen: \"127.0.0.1:99999\": port"},
		{"domain missing", func(c *Config) { c.Domain = "" }, "dns.domain: "},
		{"domain single label", func(c *Config) { c.Domain = "test" }, "dns.domain: "},
		{"domain wildcard", func(c *Config) { c.Domain = "*.acme.test" }, "dns.domain: "},
		{"domain bad label", func(c *Config) { c.Domain = "ac me.test" }, "dns.domain: "},
		{"nsname missing", func(c *Config) { c.NSName = "" }, "dns.nsname: missing"},
		{"nsname invalid", func(c *Config) { c.NSName = "ns_1..test" }, "dns.nsname: "},
		{"nsadmin bad mail", func(c *Config) { c.NSAdmin = "@example.org" }, "dns.nsadmin: "},
		{"nsadmin one label", func(c *Config) { c.NSAdmin = "hostmaster" }, "dns.nsadmin: "},
		{"rate limit negative", func(c *Config) { c.RateLimit = -1 }, "dns.rate_limit: -1"},
		{"record syntax", func(c *Config) { c.Records = []string{"www A 192.0.2.1", "www A not-an-ip"} },
			`dns.records[1] "www A not-an-ip": `},
		{"record outside the zone", func(c *Config) { c.Records = []string{"www.example.com. A 192.0.2.1"} },
			`dns.records[0] "www.example.com. A 192.0.2.1": owner www.example.com. is outside the zone acme.test.`},
		{"record SOA", func(c *Config) { c.Records = []string{"@ SOA ns1 host 1 2 3 4 5"} }, "dns.records[0] \"@ SOA ns1 host 1 2 3 4 5\": the SOA is made by the server"},
		{"record delegation", func(c *Config) { c.Records = []string{"sub NS ns.example.com."} }, "dns.records[0] \"sub NS ns.example.com.\": NS below the zone apex"},
		{"record wildcard", func(c *Config) { c.Records = []string{"*.x A 192.0.2.1"} }, "dns.records[0] \"*.x A 192.0.2.1\": wildcard"},
		{"record class CH", func(c *Config) { c.Records = []string{"www CH TXT x"} }, "dns.records[0] \"www CH TXT x\": class CH"},
		{"record CNAME at apex", func(c *Config) { c.Records = []string{"@ CNAME www"} }, "CNAME at the zone apex"},
		{"record CNAME and other data", func(c *Config) { c.Records = []string{"www A 192.0.2.1", "www CNAME x"} },
			`dns.records[1] "www CNAME x": a CNAME owner can have no other records`},
		{"record other data after CNAME", func(c *Config) { c.Records = []string{"www CNAME x", "www TXT y"} },
			`dns.records[1] "www TXT y": a CNAME owner can have no other records`},
		{"two records in one string", func(c *Config) { c.Records = []string{"www A 192.0.2.1\nftp A 192.0.2.2"} }, "more than one record"},
		{"empty record", func(c *Config) { c.Records = []string{" "} }, `dns.records[0] " ": no record`},
		{"apex NS extra is fine", func(c *Config) { c.Records = []string{"@ NS ns2.example.com."} }, ""},
		{"several errors at once", func(c *Config) { c.Listen = ""; c.NSName = "" }, "dns.listen: missing\ndns.nsname: missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := New(c, quietLogger()); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
			if _, err := New(c, quietLogger()); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestMailbox(t *testing.T) {
	cases := []struct{ admin, want string }{
		{"", "hostmaster.acme.test."},
		{"hostmaster@example.org", "hostmaster.example.org."},
		{"host.master@Example.org.", `host\.master.example.org.`},
		{"hostmaster.example.org.", "hostmaster.example.org."},
	}
	for _, tc := range cases {
		t.Run(tc.admin, func(t *testing.T) {
			got, err := mailbox(tc.admin, "acme.test")
			if err != nil || got != tc.want {
				t.Errorf("mailbox(%q) = %q, %v; want %q", tc.admin, got, err, tc.want)
			}
		})
	}
}
