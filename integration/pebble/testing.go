package pebble

import "testing"

// StartTB starts a CA for a test or benchmark and closes it in tb's
// cleanup; it fails tb if the CA cannot start.
func StartTB(tb testing.TB, opts Options) *CA {
	tb.Helper()
	c, err := Start(opts)
	if err != nil {
		tb.Fatalf("start pebble: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close pebble: %v", err)
		}
	})
	return c
}
