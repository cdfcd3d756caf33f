package service

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RunFile is written to <data_dir>/run.json once the hub is ready and
// removed on a clean stop. The CLI reads it to find the hub, and tests and
// supervisors read it to learn the addresses of ports configured as ":0".
type RunFile struct {
	PID     int    `json:"pid"`
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

// RunFilePath is where the run file of dataDir lives.
func RunFilePath(dataDir string) string { return filepath.Join(dataDir, "run.json") }

// ReadRunFile reads the run file of dataDir.
func ReadRunFile(dataDir string) (RunFile, error) {
	var rf RunFile
	b, err := os.ReadFile(RunFilePath(dataDir))
	if err != nil {
		return rf, fmt.Errorf("read run file (is the hub running?): %w", err)
	}
	if err := json.Unmarshal(b, &rf); err != nil {
		return rf, fmt.Errorf("parse run file: %w", err)
	}
	return rf, nil
}

func (h *Hub) writeRunFile() error {
	rf := RunFile{PID: os.Getpid(), NATSURL: h.clientURL(), DNSUDP: h.dns.UDPAddr().String(),
		DNSTCP: h.dns.TCPAddr().String(), ACMEDNS: h.acmednsURL(), Started: time.Now().UTC(), Version: h.version}
	rf.Web = h.webURL
	rf.Pprof = h.pprofURL
	if h.metricsAddr != "" {
		rf.Metrics = "http://" + h.metricsAddr + "/metrics"
	}
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return err
	}
	path := RunFilePath(h.cfg.DataDir)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write run file: %w", err)
	}
	return os.Rename(tmp, path)
}

// clientURL is the URL local clients (the CLI) use.
func (h *Hub) clientURL() string {
	if h.ns != nil {
		return h.ns.ClientURL()
	}
	return h.nc.ConnectedUrlRedacted()
}

// advertiseURLs are the URLs written into enrollment bundles: the
// configured ones, else the embedded server's own addresses (tests, demo):
// the client port first, then the WebSocket port when it is on.
func (h *Hub) advertiseURLs() []string {
	if u := h.cfg.AdvertiseURLs(); len(u) > 0 {
		return u
	}
	urls := []string{h.clientURL()}
	if h.ns != nil && h.ns.WebsocketURL() != "" {
		urls = append(urls, h.ns.WebsocketURL())
	}
	return urls
}
