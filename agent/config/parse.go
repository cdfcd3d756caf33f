package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/certfleet/certfleet/shared"
)

// maxConfigSize bounds the configuration file; anything larger is a
// mistake, not a configuration.
const maxConfigSize = 4 << 20

// ParseConfig decodes TOML over DefaultConfig, applies per-block defaults,
// normalizes names and validates the result. Unknown keys are errors that
// name the key.
func ParseConfig(data []byte) (Config, error) {
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("parse config: %d bytes, limit %d", len(data), maxConfigSize)
	}
	cfg := DefaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return Config{}, fmt.Errorf("parse config: unknown key %s", strings.Join(keys, ", "))
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
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Load reads and parses the configuration file at path.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
