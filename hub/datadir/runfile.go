package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxRunFile bounds a run file read: it is a few hundred bytes.
const maxRunFile = 64 << 10

// RunFile is written to <data_dir>/run.json once the hub is ready and
// removed on a clean stop. The CLI reads it to find the hub, and tests and
// supervisors read it to learn the addresses of ports configured as ":0".
type RunFile struct {
	PID int `json:"pid"`
	// Hub is the hub's id among the hubs sharing its store (<data_dir>/hub-id).
	Hub     string `json:"hub,omitempty"`
	NATSURL string `json:"nats_url"`
	DNSUDP  string `json:"dns_udp"`
	DNSTCP  string `json:"dns_tcp"`
	// ACMEDNS is the acme-dns API's URL, when enabled.
	ACMEDNS string    `json:"acmedns,omitempty"`
	Started time.Time `json:"started"`
	Version string    `json:"version"`
	// Metrics is the /metrics URL, when metrics.listen is set.
	Metrics string `json:"metrics,omitempty"`
	// Web is the dashboard's URL, when web.listen is set.
	Web string `json:"web,omitempty"`
	// Pprof is the runtime profiles' URL, when debug.pprof_listen is set.
	Pprof string `json:"pprof,omitempty"`
}

// ReadRunFile reads the run file. A hub that is not running has none:
// the error then wraps fs.ErrNotExist and says so.
func (d Dir) ReadRunFile() (RunFile, error) {
	var rf RunFile
	f, err := os.Open(d.RunFile())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return rf, fmt.Errorf("read run file (is the hub running?): %w", err)
		}
		return rf, fmt.Errorf("read run file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRunFile+1))
	if err != nil {
		return rf, fmt.Errorf("read run file: %w", err)
	}
	if len(b) > maxRunFile {
		return rf, fmt.Errorf("read run file %s: more than %d bytes", d.RunFile(), maxRunFile)
	}
	if err := json.Unmarshal(b, &rf); err != nil {
		return rf, fmt.Errorf("parse run file %s: %w", d.RunFile(), err)
	}
	return rf, nil
}

// WriteRunFile replaces the run file atomically (0600), so a reader never
// sees half of it.
func (d Dir) WriteRunFile(rf RunFile) error {
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return fmt.Errorf("write run file: %w", err)
	}
	path := d.RunFile()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write run file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write run file: %w", err)
	}
	return nil
}

// RemoveRunFile removes the run file; one already gone is not an error.
func (d Dir) RemoveRunFile() error {
	if err := os.Remove(d.RunFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove run file: %w", err)
	}
	return nil
}
