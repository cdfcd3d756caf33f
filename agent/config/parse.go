package config

import (
	"fmt"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// ParseConfig decodes TOML over DefaultConfig (see configfile.Decode:
// size cap, unknown keys are errors naming key and line), applies the
// per-block defaults, normalizes names and rewrites old spellings to
// today's, keeping a warning for each (Deprecations). It does not
// validate; see Validate and Load.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	if err := configfile.Decode(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	cfg.Inventory.applyDefaults()
	for i := range cfg.Certificates {
		b := &cfg.Certificates[i]
		b.applyDefaults()
		for j, n := range b.Names {
			b.Names[j] = shared.NormalizeName(n)
		}
		if b.CheckServerName != "" {
			b.CheckServerName = shared.NormalizeName(b.CheckServerName)
		}
		// An unknown key type is left for Validate to report.
		if kt, old, ok := keytype.Canonical(b.KeyType); ok && old {
			cfg.deprecated = append(cfg.deprecated, configfile.Deprecated(fmt.Sprintf("certificate[%d].key_type", i), b.KeyType, kt))
			b.KeyType = kt
		}
	}
	return cfg, nil
}

// Load reads (at most configfile.MaxSize bytes), parses and validates the
// configuration file at path.
func Load(path string) (Config, error) {
	data, err := configfile.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}
