package config

import (
	"fmt"
	"io/fs"
	"strconv"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("30s",
// "720h") in TOML.
type Duration struct {
	time.Duration
}

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		d.Duration = 0
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// FileMode is a unix permission mode, written in TOML as an octal string
// ("0640") or an octal integer (0o640).
type FileMode struct {
	Mode fs.FileMode
	// Set is false when the key was absent, so defaults apply.
	Set bool
}

// UnmarshalTOML accepts "0640" or 0o640.
func (m *FileMode) UnmarshalTOML(v any) error {
	var n uint64
	switch x := v.(type) {
	case string:
		p, err := strconv.ParseUint(x, 8, 32)
		if err != nil {
			return fmt.Errorf("mode %q: want an octal mode like \"0640\"", x)
		}
		n = p
	case int64:
		if x < 0 {
			return fmt.Errorf("mode %d: negative", x)
		}
		n = uint64(x)
	default:
		return fmt.Errorf("mode: want an octal string like \"0640\", got %T", v)
	}
	if n > 0o777 {
		return fmt.Errorf("mode %#o: only permission bits (at most 0777) are allowed", n)
	}
	m.Mode = fs.FileMode(n)
	m.Set = true
	return nil
}

// String writes the mode as four octal digits.
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m.Mode)) }
