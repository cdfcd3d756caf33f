package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
)

const alarmTOML = `
[metrics]
listen = "127.0.0.1:9153"

[[alarm]]
name = "ops-hook"
type = "webhook"
url = "https://alerts.example.org/certfleet"
secret = "s3cret"

[[alarm]]
name = "ops-mail"
type = "email"
smtp = "smtp.example.org:587"
username = "certfleet"
password = "pw"
from = "certfleet@example.org"
to = ["ops@example.org"]
ca_file = "smtp-ca.pem"
expiring_within = "168h"
failed_attempts = -1
reload_failed = false
`

func TestParseAlarms(t *testing.T) {
	cfg, err := ParseConfig([]byte(minimalTOML + alarmTOML))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Listen != "127.0.0.1:9153" || len(cfg.Alarm) != 2 {
		t.Fatalf("parsed %+v %+v", cfg.Metrics, cfg.Alarm)
	}
	hook, mail := cfg.Alarm[0], cfg.Alarm[1]
	// Defaults fill what the file leaves out.
	if hook.ExpiringWithin.D() != DefaultAlarmExpiringWithin || hook.FailedAttempts != DefaultAlarmFailedAttempts ||
		hook.OfflineFor != cfg.Agents.SilentAfter || !hook.ReloadFailedOn() {
		t.Errorf("webhook defaults %+v", hook)
	}
	if mail.ExpiringWithin.D() != 168*time.Hour || mail.FailedAttempts != -1 || mail.ReloadFailedOn() {
		t.Errorf("mail thresholds %+v", mail)
	}
}

func TestValidateWebAccepts(t *testing.T) {
	cases := []struct {
		name string
		web  func(zone string) WebConfig
	}{
		{"plain on loopback", func(string) WebConfig { return WebConfig{Listen: "127.0.0.1:8443"} }},
		{"files, implied", func(string) WebConfig { return WebConfig{Listen: ":8443", TLSCert: "c.pem", TLSKey: "k.pem"} }},
		{"files with client certificates", func(string) WebConfig {
			return WebConfig{Listen: ":8443", TLS: WebTLSFiles, TLSCert: "c.pem", TLSKey: "k.pem", ClientCA: "ca.pem"}
		}},
		{"self for a name in the zone", func(zone string) WebConfig {
			return WebConfig{Listen: ":8443", TLS: WebTLSSelf, Hostname: "dash." + zone, ClientCA: "ca.pem"}
		}},
		{"self for the zone itself", func(zone string) WebConfig { return WebConfig{Listen: ":8443", TLS: WebTLSSelf, Hostname: zone} }},
		{"off behind a proxy", func(string) WebConfig { return WebConfig{Listen: ":8443", TLS: WebTLSOff, AllowPlainHTTP: true} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.Web = tc.web(cfg.DNS.Domain)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

func TestValidateAlarmsRejects(t *testing.T) {
	hook := func() AlarmConfig { return AlarmConfig{Name: "hook", Type: AlarmWebhook, URL: "https://example.org/x"} }
	mail := func() AlarmConfig {
		return AlarmConfig{Name: "mail", Type: AlarmEmail, SMTP: "smtp.example.org:587", From: "a@example.org", To: []string{"b@example.org"}}
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string
		kind   error
		detail string
	}{
		{"web plain on a public address", func(c *Config) { c.Web.Listen = ":8443" }, "web.listen", configfile.ErrConflict, "loopback"},
		{"web key without cert", func(c *Config) { c.Web.Listen = "127.0.0.1:8443"; c.Web.TLSKey = "k.pem" }, "web.tls_key", configfile.ErrConflict, "together"},
		{"web files without key", func(c *Config) { c.Web.Listen = ":8443"; c.Web.TLS = "files"; c.Web.TLSCert = "c.pem" }, "web.tls_key", configfile.ErrConflict, "together"},
		{"web tls unknown", func(c *Config) { c.Web.Listen = "127.0.0.1:8443"; c.Web.TLS = "acme" }, "web.tls", configfile.ErrInvalid, "self"},
		{"web self without hostname", func(c *Config) { c.Web.Listen = ":8443"; c.Web.TLS = "self" }, "web.hostname", configfile.ErrRequired, "required"},
		{"web self outside the zone", func(c *Config) { c.Web.Listen = ":8443"; c.Web.TLS = "self"; c.Web.Hostname = "dash.example.net" }, "web.hostname", configfile.ErrInvalid, "dns.domain"},
		{"web self with files", func(c *Config) {
			c.Web.Listen, c.Web.TLS, c.Web.Hostname, c.Web.TLSCert, c.Web.TLSKey = ":8443", "self", "dash."+c.DNS.Domain, "c.pem", "k.pem"
		}, "web.tls_cert", configfile.ErrConflict, "self"},
		{"web hostname without self", func(c *Config) { c.Web.Listen = "127.0.0.1:8443"; c.Web.Hostname = "dash." + c.DNS.Domain }, "web.hostname", configfile.ErrConflict, "only"},
		{"web client ca without tls", func(c *Config) { c.Web.Listen = "127.0.0.1:8443"; c.Web.ClientCA = "ca.pem" }, "web.client_ca", configfile.ErrConflict, "TLS"},
		{"metrics.listen bad", func(c *Config) { c.Metrics.Listen = "9153" }, "metrics.listen", configfile.ErrInvalid, "host:port"},
		{"name missing", func(c *Config) { a := hook(); a.Name = ""; c.Alarm = []AlarmConfig{a} }, "alarm[0].name", configfile.ErrRequired, "required"},
		{"name bad", func(c *Config) { a := hook(); a.Name = "Ops Team"; c.Alarm = []AlarmConfig{a} }, "alarm[0].name", configfile.ErrInvalid, "lower-case"},
		{"name twice", func(c *Config) { c.Alarm = []AlarmConfig{hook(), hook()} }, "alarm[1].name", configfile.ErrDuplicate, "used by another"},
		{"type missing", func(c *Config) { a := hook(); a.Type = ""; c.Alarm = []AlarmConfig{a} }, "alarm[0].type", configfile.ErrRequired, "required"},
		{"type unknown", func(c *Config) { a := hook(); a.Type = "sms"; c.Alarm = []AlarmConfig{a} }, "alarm[0].type", configfile.ErrInvalid, "sms"},
		{"webhook url missing", func(c *Config) { a := hook(); a.URL = ""; c.Alarm = []AlarmConfig{a} }, "alarm[0].url", configfile.ErrRequired, "required"},
		{"webhook url scheme", func(c *Config) { a := hook(); a.URL = "ftp://example.org/"; c.Alarm = []AlarmConfig{a} }, "alarm[0].url", configfile.ErrInvalid, "http"},
		{"smtp missing", func(c *Config) { a := mail(); a.SMTP = ""; c.Alarm = []AlarmConfig{a} }, "alarm[0].smtp", configfile.ErrRequired, "required"},
		{"smtp no port", func(c *Config) { a := mail(); a.SMTP = "smtp.example.org"; c.Alarm = []AlarmConfig{a} }, "alarm[0].smtp", configfile.ErrInvalid, "host:port"},
		{"from bad", func(c *Config) { a := mail(); a.From = "nobody"; c.Alarm = []AlarmConfig{a} }, "alarm[0].from", configfile.ErrInvalid, "mail address"},
		{"to missing", func(c *Config) { a := mail(); a.To = nil; c.Alarm = []AlarmConfig{a} }, "alarm[0].to", configfile.ErrRequired, "required"},
		{"to bad", func(c *Config) { a := mail(); a.To = []string{"x"}; c.Alarm = []AlarmConfig{a} }, "alarm[0].to", configfile.ErrInvalid, "mail address"},
		{"username without password", func(c *Config) { a := mail(); a.Username = "u"; c.Alarm = []AlarmConfig{a} }, "alarm[0].password", configfile.ErrConflict, "together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.mutate(&cfg)
			err := cfg.Validate()
			if got := fieldNames(err); !slices.Equal(got, []string{tt.field}) {
				t.Fatalf("Validate() named fields %v, want exactly [%s]; error: %v", got, tt.field, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Validate() = %q, want kind %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Validate() = %q, want %q in it", err, tt.detail)
			}
		})
	}
}
