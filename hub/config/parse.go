package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/certfleet/certfleet/shared"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

// ParseConfig decodes a TOML file over DefaultConfig and fills in the
// defaults that derive from other fields (dns.nsname, dns.nsadmin, a
// [[ca]]'s key_type). Unknown keys are errors naming every such key. It
// does not validate; see Validate and Load.
func ParseConfig(data []byte) (Config, error) {
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("parse config: %d bytes, limit %d", len(data), MaxFileSize)
	}
	cfg := DefaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = fmt.Sprintf("%q", k.String())
		}
		noun := "key"
		if len(keys) > 1 {
			noun = "keys"
		}
		return Config{}, fmt.Errorf("parse config: unknown %s %s", noun, strings.Join(keys, ", "))
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
		if c.CA[i].KeyType == "" {
			c.CA[i].KeyType = DefaultKeyType
		}
	}
	c.fillAlarmDefaults()
}

// Load reads, parses and validates the file at path. Relative paths in
// the file (data_dir, TLS files, CA bundles, external credentials) are
// taken relative to the file's directory, so a config works wherever the
// hub is started from.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
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

// FieldError is one problem Validate found, naming the field.
type FieldError struct {
	Field   string // e.g. "dns.domain", "ca[1].directory"
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// FieldErrors returns the FieldErrors in an error Validate returned.
func FieldErrors(err error) []*FieldError {
	switch e := err.(type) {
	case *FieldError:
		return []*FieldError{e}
	case interface{ Unwrap() []error }:
		var out []*FieldError
		for _, inner := range e.Unwrap() {
			out = append(out, FieldErrors(inner)...)
		}
		return out
	case interface{ Unwrap() error }:
		return FieldErrors(e.Unwrap())
	}
	return nil
}
