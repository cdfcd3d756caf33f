package service

import (
	"os"
	"time"

	"github.com/certfleet/certfleet/hub/datadir"
)

// dir is the hub's data directory and its layout.
func (h *Hub) dir() datadir.Dir { return datadir.Dir(h.cfg.DataDir) }

// writeRunFile tells the CLI, tests and supervisors where the ready hub
// listens (see datadir.RunFile).
func (h *Hub) writeRunFile() error {
	rf := datadir.RunFile{PID: os.Getpid(), Hub: h.id, NATSURL: h.clientURL(), DNSUDP: h.dns.UDPAddr().String(),
		DNSTCP: h.dns.TCPAddr().String(), ACMEDNS: h.acmednsURL(), Started: time.Now().UTC(), Version: h.version}
	rf.Web = h.webURL
	rf.Pprof = h.pprofURL
	if h.metricsAddr != "" {
		rf.Metrics = "http://" + h.metricsAddr + "/metrics"
	}
	return h.dir().WriteRunFile(rf)
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
