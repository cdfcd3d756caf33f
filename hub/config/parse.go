package config

import (
	"fmt"
	"path/filepath"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// ParseConfig decodes a TOML file over DefaultConfig (see
// configfile.Decode: size cap, unknown keys are errors naming key and
// line), fills in the defaults that derive from other fields (dns.nsname,
// dns.nsadmin, a [[ca]]'s key_type) and rewrites old spellings to today's,
// keeping a warning for each (Deprecations). It does not validate; see
// Validate and Load.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	if err := configfile.Decode(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	cfg.fillDerived()
	return cfg, nil
}

// fillDerived normalizes names and fills defaults that depend on other
// fields.
func (c *Config) fillDerived() {
	c.DNS.Domain = shared.NormalizeName(c.DNS.Domain)
	c.DNS.NSName = shared.NormalizeName(c.DNS.NSName)
	if c.DNS.Domain != "" {
		if c.DNS.NSName == "" {
			c.DNS.NSName = "ns1." + c.DNS.Domain
		}
		if c.DNS.NSAdmin == "" {
			c.DNS.NSAdmin = "hostmaster." + c.DNS.Domain
		}
	}
	for i := range c.CA {
		ca := &c.CA[i]
		if ca.KeyType == "" {
			ca.KeyType = DefaultKeyType
		}
		// An unknown key type is left for Validate to report.
		if kt, old, ok := keytype.Canonical(ca.KeyType); ok && old {
			c.deprecated = append(c.deprecated, configfile.Deprecated(fmt.Sprintf("ca[%d].key_type", i), ca.KeyType, kt))
			ca.KeyType = kt
		}
	}
	c.fillAlarmDefaults()
}

// Load reads, parses and validates the file at path (at most
// configfile.MaxSize bytes). Relative paths in
// the file (data_dir, TLS files, CA bundles, external credentials) are
// taken relative to the file's directory, so a config works wherever the
// hub is started from.
func Load(path string) (Config, error) {
	data, err := configfile.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	cfg.resolvePaths(filepath.Dir(abs))
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.NATS.TLSCert)
	abs(&c.NATS.TLSKey)
	abs(&c.ACMEDNS.TLSCert)
	abs(&c.ACMEDNS.TLSKey)
	if x := c.NATS.External; x != nil {
		abs(&x.Credentials)
		abs(&x.SigningKey)
		abs(&x.CA)
	}
	for i := range c.CA {
		abs(&c.CA[i].CABundle)
	}
	abs(&c.Web.TLSCert)
	abs(&c.Web.TLSKey)
	abs(&c.Web.ClientCA)
	for i := range c.Alarm {
		abs(&c.Alarm[i].CAFile)
	}
}
