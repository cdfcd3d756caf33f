package shared

import "time"

// ReloadResult is the outcome of the last reload an agent ran after
// installing a certificate (a systemctl reload, a command, a signal, a
// Windows service restart).
type ReloadResult struct {
	At time.Time `json:"at"`
	// Hook says what ran, e.g. "systemctl reload nginx.service".
	Hook  string `json:"hook"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}
