package service

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// loadDNS starts the watches that keep the DNS server's memory current
// with JetStream. Both watches replay the buckets' contents before they
// return, so the server starts with every zone and challenge in place.
func (h *Hub) loadDNS(ctx context.Context) error {
	var mu sync.Mutex
	zones := map[string]bool{}
	setZones := func() {
		list := make([]string, 0, len(zones))
		for z := range zones {
			list = append(list, z)
		}
		sort.Strings(list)
		h.dns.SetZones(list)
	}
	dw, err := h.store.WatchDomains(ctx, func(put bool, name string, d hub.Domain) {
		if d.Mode != hub.ModeZone {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if put {
			zones[d.Name] = true
		} else {
			delete(zones, d.Name)
		}
		setZones()
	})
	if err != nil {
		return fmt.Errorf("load zones: %w", err)
	}
	cw, err := h.store.WatchChallenges(ctx, func(put bool, key string, c hub.Challenge) {
		if put {
			h.dns.PutTXT(c.FQDN, key, c.Value)
		} else {
			h.dns.DeleteTXT(c.FQDN, key)
		}
	})
	if err != nil {
		dw.Stop()
		return fmt.Errorf("load challenges: %w", err)
	}
	h.watches = []*store.Watch{dw, cw}
	return nil
}

// syncDNS reports a watch that ended with an error (the hub then stops:
// a DNS server with stale data must not keep answering) and stops the
// watches when ctx ends.
func (h *Hub) syncDNS(ctx context.Context) error {
	defer func() {
		for _, w := range h.watches {
			w.Stop()
		}
	}()
	ended := make(chan *store.Watch, len(h.watches))
	for _, w := range h.watches {
		go func() {
			select {
			case <-w.Done():
				ended <- w
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case w := <-ended:
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dns watch ended: %w", w.Err())
	}
}
