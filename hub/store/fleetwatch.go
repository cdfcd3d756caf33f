package store

import (
	"context"
	"fmt"

	"github.com/certfleet/certfleet/hub"
)

// The fleet watches feed a hub's in-memory fleet view (hub/fleet). Each
// replays its bucket before it returns and then follows every change,
// whoever made it (this hub, another hub sharing the store, an operator's
// tool). An entry that is not a readable record of its key does not end
// the watch: it goes to damaged (d set) until the key is removed or
// readable again (d nil), so the view lists it like the bucket listings
// do.

// WatchAgents watches the agent records.
func (s *Store) WatchAgents(ctx context.Context, fn func(put bool, id string, a hub.Agent), damaged func(key string, d *hub.Damaged)) (*Watch, error) {
	w, err := watchBucketSpec(ctx, s, s.agents, fn, watchSpec[hub.Agent]{damaged: damaged,
		check: func(key string, a hub.Agent) error {
			return belongs("an agent", func() (string, error) { return agentKey(a.ID) }, key)
		}})
	if err != nil {
		return nil, fmt.Errorf("watch agents: %w", err)
	}
	return w, nil
}

// WatchStatus watches the agents' latest status reports.
func (s *Store) WatchStatus(ctx context.Context, fn func(put bool, id string, st hub.AgentStatus), damaged func(key string, d *hub.Damaged)) (*Watch, error) {
	w, err := watchBucketSpec(ctx, s, s.status, fn, watchSpec[hub.AgentStatus]{damaged: damaged,
		check: func(key string, st hub.AgentStatus) error {
			return belongs("an agent status", func() (string, error) { return agentKey(st.AgentID) }, key)
		}})
	if err != nil {
		return nil, fmt.Errorf("watch status: %w", err)
	}
	return w, nil
}

// WatchCerts watches the certificate records, PEM chains included (the
// caller drops what it does not keep).
func (s *Store) WatchCerts(ctx context.Context, fn func(put bool, key string, c hub.CertRecord), damaged func(key string, d *hub.Damaged)) (*Watch, error) {
	w, err := watchBucketSpec(ctx, s, s.certs, fn, watchSpec[hub.CertRecord]{damaged: damaged,
		check: func(key string, c hub.CertRecord) error {
			return belongs("a certificate record", func() (string, error) { return certKey(c.AgentID, c.CertName) }, key)
		}})
	if err != nil {
		return nil, fmt.Errorf("watch certs: %w", err)
	}
	return w, nil
}

// WatchRequests watches the request states (kept for Options.ResultTTL;
// their expiry arrives as a removal).
func (s *Store) WatchRequests(ctx context.Context, fn func(put bool, key string, q hub.RequestState), damaged func(key string, d *hub.Damaged)) (*Watch, error) {
	w, err := watchBucketSpec(ctx, s, s.requests, fn, watchSpec[hub.RequestState]{damaged: damaged,
		check: func(key string, q hub.RequestState) error {
			return belongs("a request state", func() (string, error) { return requestKey(q.AgentID, q.RequestID) }, key)
		}})
	if err != nil {
		return nil, fmt.Errorf("watch requests: %w", err)
	}
	return w, nil
}
