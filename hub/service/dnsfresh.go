package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
)

// On an external NATS the hub's connection can drop (its server died)
// while its DNS keeps answering from memory: answers that may lack the
// newest challenges, which a CA takes as final. So from a disconnect until
// the DNS data is known current again, the hub's DNS answers SERVFAIL to
// the questions that depend on it (dnsserver.SetStale), and resolvers ask
// another hub. The embedded server's in-process connection does not drop.

// freshEvery is how often a reconnected hub compares its DNS data with
// the store until they agree.
const freshEvery = 100 * time.Millisecond

// connHandlers are the connection callbacks that feed keepDNSFresh.
func (h *Hub) connHandlers() []nats.Option {
	signal := func() {
		select {
		case h.connEvents <- struct{}{}:
		default: // one pending signal is enough: the state is read fresh
		}
	}
	return []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, _ error) { signal() }),
		nats.ReconnectHandler(func(*nats.Conn) { signal() }),
	}
}

// keepDNSFresh marks the DNS data stale while the connection is down and
// fresh again once the data is current, until ctx ends.
func (h *Hub) keepDNSFresh(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.connEvents:
		}
		if !h.nc.IsConnected() {
			h.dns.SetStale(true)
			h.log.Warn("lost the NATS connection: DNS answers SERVFAIL to challenge questions until its data is current again")
			continue
		}
		if !h.dns.Stale() {
			continue
		}
		began := time.Now()
		if h.awaitDNSCurrent(ctx) {
			h.dns.SetStale(false)
			h.log.Info("NATS connection back and DNS data current", "after", time.Since(began).Round(time.Millisecond))
		}
	}
}

// awaitDNSCurrent polls until every zone, challenge and acme-dns value in
// the store is served, and reports whether that happened; false when the
// connection dropped again or ctx ended (a later event retries).
func (h *Hub) awaitDNSCurrent(ctx context.Context) bool {
	t := time.NewTicker(freshEvery)
	defer t.Stop()
	for {
		if !h.nc.IsConnected() {
			return false
		}
		ok, err := h.dnsCurrent(ctx)
		if err != nil {
			h.log.Debug("compare DNS data with the store", "err", err)
		}
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// dnsCurrent reports whether the DNS serves everything the store holds
// now. Values the store no longer holds may still be served for a moment:
// an extra TXT value fails no validation.
func (h *Hub) dnsCurrent(ctx context.Context) (bool, error) {
	domains, _, err := h.store.ListDomains(ctx)
	if err != nil {
		return false, err
	}
	served := map[string]bool{}
	for _, z := range h.dns.Zones() {
		served[strings.TrimSuffix(strings.ToLower(z), ".")] = true
	}
	for _, d := range domains {
		if d.Mode == hub.ModeZone && !served[strings.TrimSuffix(strings.ToLower(d.Name), ".")] {
			return false, nil
		}
	}
	challenges, _, err := h.store.ListChallenges(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range challenges {
		if !slices.Contains(h.dns.TXT(c.FQDN), c.Value) {
			return false, nil
		}
	}
	regs, _, err := h.store.ListACMEDNS(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range regs {
		values := h.dns.TXT(h.acmednsFQDN(r.Subdomain))
		for i := range min(len(r.TXT), hub.ACMEDNSKeep) {
			if v := r.TXT[i].Value; v != "" && !slices.Contains(values, v) {
				return false, nil
			}
		}
	}
	return true, nil
}
