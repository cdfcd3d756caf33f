package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/store"
)

// The CA may ask any hub's DNS for a challenge, not the one that placed
// it: every hub is a name server of the zone. Each hub feeds its DNS from
// the same KV watch, within milliseconds, but "within milliseconds" loses
// to a CA that validates at once. So before the solver lets the CA
// validate, it asks every other running hub (each announces itself in the
// leases bucket) whether its DNS serves the value, and waits for their
// answers.

// serveWait bounds how long a hub waits for its DNS to serve a value
// another hub asks about.
const serveWait = 5 * time.Second

// serveSubject is where hub id answers whether its DNS serves a value.
// It is in the hubs' account, which no agent and no admin can publish to.
func serveSubject(id string) string { return "certfleet.hub." + id + ".serves" }

type serveQuery struct {
	FQDN  string `json:"fqdn"`
	Value string `json:"value"`
}

type serveAnswer struct {
	Serves bool `json:"serves"`
}

// announce renews this hub's entry among the running hubs.
func (h *Hub) announce(ctx context.Context) {
	if err := h.store.AnnounceHub(ctx, store.HubEntry{ID: h.id, Version: h.version, Started: h.started}); err != nil {
		h.log.Warn("announce this hub to the others", "err", err)
	}
}

// subscribePeers answers other hubs' questions about this hub's DNS.
func (h *Hub) subscribePeers(ctx context.Context) error {
	sub, err := h.nc.Subscribe(serveSubject(h.id), func(m *nats.Msg) {
		// Each answer may wait for the DNS: one goroutine each, so one slow
		// answer does not hold up the next question.
		h.peerTasks.run(func() { h.answerServes(ctx, m) })
	})
	if err != nil {
		return err
	}
	h.subs = append(h.subs, sub)
	return nil
}

func (h *Hub) answerServes(ctx context.Context, m *nats.Msg) {
	var q serveQuery
	ans := serveAnswer{}
	if err := json.Unmarshal(m.Data, &q); err == nil && q.FQDN != "" {
		ans.Serves = h.awaitServed(ctx, q.FQDN, q.Value, serveWait)
	}
	b, _ := json.Marshal(ans)
	if err := m.Respond(b); err != nil {
		h.log.Debug("answer another hub", "err", err)
	}
}

// awaitServed waits up to within until this hub's DNS serves value at
// fqdn.
func (h *Hub) awaitServed(ctx context.Context, fqdn, value string, within time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if slices.Contains(h.dns.TXT(fqdn), value) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// awaitPeersServe asks every other running hub whether its DNS serves
// value at fqdn and waits for the answers. A hub that does not answer or
// does not serve it is logged, not waited for longer: the order goes on
// (the CA may still ask another hub, and a failed validation is retried).
func (h *Hub) awaitPeersServe(ctx context.Context, fqdn, value string) {
	hubs, _, err := h.store.RunningHubs(ctx)
	if err != nil {
		h.log.Warn("list the running hubs; not waiting for their DNS", "err", err)
		return
	}
	body, _ := json.Marshal(serveQuery{FQDN: fqdn, Value: value})
	var wg sync.WaitGroup
	for _, e := range hubs {
		if e.ID == h.id {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, serveWait+2*time.Second)
			defer cancel()
			m, err := h.nc.RequestWithContext(rctx, serveSubject(e.ID), body)
			var ans serveAnswer
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				// Stopped or dead; its entry lapses soon.
				h.log.Debug("hub not running; not waiting for its DNS", "hub", e.ID)
			case err != nil:
				h.log.Warn("another hub did not say whether its DNS serves a challenge", "hub", e.ID, "fqdn", fqdn, "err", err)
			case json.Unmarshal(m.Data, &ans) != nil || !ans.Serves:
				h.log.Warn("another hub's DNS does not serve a challenge yet; the CA may ask it", "hub", e.ID, "fqdn", fqdn)
			}
		}()
	}
	wg.Wait()
}

// tasks runs goroutines that stop must wait for, and none once stop has
// begun (a NATS callback may still fire after its unsubscribe).
type tasks struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
}

func (t *tasks) run(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
}

func (t *tasks) stop() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
