package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a string in TOML ("720h", "90m").
// Bare integers are rejected: nanoseconds are never what anyone meant.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration string such as \"720h\": %w", err)
	}
	*d = Duration(v)
	return nil
}
