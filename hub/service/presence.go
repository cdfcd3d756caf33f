package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// presence tracks which agents are connected from the NATS server's own
// connect and disconnect events for the agents' account (embedded NATS;
// an external deployment's system account is not the hub's to read, and
// there the last report is all the hub knows). An agent may hold more
// than one connection for a moment (a reconnect overlapping the old
// one), so connections are counted.
type presence struct {
	mu    sync.Mutex
	conns map[string]int
}

// presenceEvent is the part of the server's connect/disconnect event the
// hub reads. The user JWT in it was verified by the server; its name is
// the agent id (the client-chosen connection name is not trusted).
type presenceEvent struct {
	Client struct {
		JWT string `json:"jwt"`
	} `json:"client"`
}

// agentOfEvent returns the agent id of a connect or disconnect event.
func agentOfEvent(data []byte) (string, error) {
	var ev presenceEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return "", fmt.Errorf("decode connection event: %w", err)
	}
	name, err := userJWTName(ev.Client.JWT)
	if err != nil {
		return "", fmt.Errorf("connection event: user jwt: %w", err)
	}
	if err := shared.ValidateAgentID(name); err != nil {
		return "", fmt.Errorf("connection event: %w", err)
	}
	return name, nil
}

// userJWTName reads the name claim of a user JWT without checking its
// signature: the server checked the whole chain when the client connected,
// and only the server publishes in $SYS. Verifying it again cost an
// ed25519 verification per event, a tenth of the hub's CPU while a fleet
// reconnects.
func userJWTName(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a jwt")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("decode claims: %w", err)
	}
	var c struct {
		Name string `json:"name"`
		NATS struct {
			Type string `json:"type"`
		} `json:"nats"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fmt.Errorf("decode claims: %w", err)
	}
	if c.NATS.Type != jwt.UserClaim {
		return "", fmt.Errorf("claims of type %q, not a user", c.NATS.Type)
	}
	return c.Name, nil
}

// watchPresence subscribes to the agents' connection events and marks
// every agent recorded as connected before this hub started as offline
// (the embedded server started with it, so none of them is connected).
func (h *Hub) watchPresence(ctx context.Context) error {
	if h.sysnc == nil {
		return nil
	}
	h.presence.conns = map[string]int{}
	acc := h.auth.AgentsAccountPublicKey()
	for _, ev := range []struct {
		subject string
		online  bool
	}{{fmt.Sprintf("$SYS.ACCOUNT.%s.CONNECT", acc), true}, {fmt.Sprintf("$SYS.ACCOUNT.%s.DISCONNECT", acc), false}} {
		online := ev.online
		sub, err := h.sysnc.Subscribe(ev.subject, func(m *nats.Msg) { h.onPresence(m.Data, online) })
		if err != nil {
			return fmt.Errorf("subscribe to connection events: %w", err)
		}
		h.subs = append(h.subs, sub)
	}
	if err := h.sysnc.Flush(); err != nil {
		return fmt.Errorf("subscribe to connection events: %w", err)
	}
	started := time.Now().UTC()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.resetPresence(ctx, started)
	}()
	return nil
}

// resetPresence clears "connected" on the statuses last touched before
// the hub started. It reads the fleet snapshot (loaded before the hub
// started serving) and writes only the agents it clears, each revision-
// checked against a newer event.
func (h *Hub) resetPresence(ctx context.Context, started time.Time) {
	for _, a := range h.fleet.All() {
		s := a.Status
		if s == nil || !s.Connected || !s.LastSeen.Before(started) {
			continue
		}
		_, err := h.store.UpdateStatus(ctx, s.AgentID, func(cur *hub.AgentStatus) error {
			if cur.LastSeen.Before(started) {
				cur.Connected = false
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			h.log.Warn("reset agent presence", "agent", s.AgentID, "err", err)
		}
	}
}

func (h *Hub) onPresence(data []byte, online bool) {
	id, err := agentOfEvent(data)
	if err != nil {
		h.log.Debug("connection event without an agent", "err", err)
		return
	}
	h.presence.mu.Lock()
	if online {
		h.presence.conns[id]++
	} else if h.presence.conns[id] > 0 {
		h.presence.conns[id]--
	}
	connected := h.presence.conns[id] > 0
	if !connected {
		delete(h.presence.conns, id)
	}
	h.presence.mu.Unlock()
	// Seen until now, whichever way it went; written with the next flush
	// of statuses (statuswriter.go), after any report it follows.
	h.statusW.record(id, &statusPatch{seen: time.Now().UTC(), connected: connected})
}
