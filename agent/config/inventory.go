package config

import (
	"fmt"
	"time"

	"github.com/certfleet/certfleet/agent/inventory"
)

// Inventory defaults and bounds.
const (
	DefaultInventoryInterval    = 15 * time.Minute
	DefaultInventoryMaxFiles    = 1000
	DefaultInventoryMaxFileSize = 1 << 20
	minInventoryInterval        = time.Minute
	maxInventoryInterval        = 24 * time.Hour
	maxInventoryPatterns        = 64
	maxInventoryFiles           = 100000
	maxInventoryFileSize        = 64 << 20
)

// Inventory is the [inventory] section: where the agent looks for
// certificates it did not issue, so the hub shows what certfleet does not
// manage yet. Off when Paths is empty.
type Inventory struct {
	// Paths are absolute globs: "*", "?" and "[...]" within one path
	// element, "**" as a whole element for any depth
	// ("/etc/nginx/certs/**" is every file below that directory).
	Paths []string `toml:"paths"`
	// Interval is how often the paths are scanned again.
	Interval Duration `toml:"interval"`
	// MaxFiles bounds the files read per scan; MaxFileSize the size of a
	// file read (larger files are skipped unread).
	MaxFiles    int   `toml:"max_files"`
	MaxFileSize int64 `toml:"max_file_size"`
}

// WithDefaults returns inv with every unset bound at its default.
func (inv Inventory) WithDefaults() Inventory {
	inv.applyDefaults()
	return inv
}

func (inv *Inventory) applyDefaults() {
	if inv.Interval.Duration == 0 {
		inv.Interval.Duration = DefaultInventoryInterval
	}
	if inv.MaxFiles == 0 {
		inv.MaxFiles = DefaultInventoryMaxFiles
	}
	if inv.MaxFileSize == 0 {
		inv.MaxFileSize = DefaultInventoryMaxFileSize
	}
}

// validate checks the section; zero bounds stand for their defaults (a
// Config built in code has them unset).
func (inv Inventory) validate(v *validator) {
	inv.applyDefaults()
	if len(inv.Paths) > maxInventoryPatterns {
		v.OutOfRange("inventory.paths", len(inv.Paths), "patterns: at most %d", maxInventoryPatterns)
	}
	for i, p := range inv.Paths {
		if _, err := inventory.CompilePattern(p); err != nil {
			v.Invalid(fmt.Sprintf("inventory.paths[%d]", i), p, "%v", err)
		}
	}
	if d := inv.Interval.Duration; d < minInventoryInterval || d > maxInventoryInterval {
		v.OutOfRange("inventory.interval", d, "want %s to %s", minInventoryInterval, maxInventoryInterval)
	}
	if inv.MaxFiles < 1 || inv.MaxFiles > maxInventoryFiles {
		v.OutOfRange("inventory.max_files", inv.MaxFiles, "want 1 to %d", maxInventoryFiles)
	}
	if inv.MaxFileSize < 1024 || inv.MaxFileSize > maxInventoryFileSize {
		v.OutOfRange("inventory.max_file_size", inv.MaxFileSize, "bytes: want 1024 to %d", maxInventoryFileSize)
	}
}
