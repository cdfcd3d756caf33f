package store

import (
	"context"
	"fmt"

	"github.com/certfleet/certfleet/hub"
)

// PutAgent writes a, keyed by a.ID.
func (s *Store) PutAgent(ctx context.Context, a hub.Agent) error {
	key, err := agentKey(a.ID)
	if err != nil {
		return fmt.Errorf("put agent: %w", err)
	}
	if err := putValue(ctx, s, s.agents, key, a); err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, err)
	}
	return nil
}

// CreateAgent writes a only if no agent a.ID exists (ErrExists).
func (s *Store) CreateAgent(ctx context.Context, a hub.Agent) error {
	key, err := agentKey(a.ID)
	if err != nil {
		return fmt.Errorf("create agent: %w", err)
	}
	if err := createValue(ctx, s, s.agents, key, a, 0); err != nil {
		return fmt.Errorf("create agent %s: %w", a.ID, err)
	}
	return nil
}

// GetAgent returns agent id or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (hub.Agent, error) {
	key, err := agentKey(id)
	if err != nil {
		return hub.Agent{}, fmt.Errorf("get agent: %w", err)
	}
	a, _, err := getValue[hub.Agent](ctx, s, s.agents, key)
	if err != nil {
		return hub.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// UpdateAgent applies fn to agent id and writes the result only if nobody
// changed the agent meanwhile (retrying fn on conflict). A missing agent is
// ErrNotFound; fn's error aborts the update and is returned as is.
func (s *Store) UpdateAgent(ctx context.Context, id string, fn func(*hub.Agent) error) (hub.Agent, error) {
	key, err := agentKey(id)
	if err != nil {
		return hub.Agent{}, fmt.Errorf("update agent: %w", err)
	}
	a, err := updateValue(ctx, s, s.agents, key, false, func(a *hub.Agent) error {
		if err := fn(a); err != nil {
			return err
		}
		if a.ID != id {
			return fmt.Errorf("agent id changed from %q to %q", id, a.ID)
		}
		return nil
	})
	if err != nil {
		return hub.Agent{}, fmt.Errorf("update agent %s: %w", id, err)
	}
	return a, nil
}

// DeleteAgent removes agent id (ErrNotFound if there is none). Its
// certificates, results and status are left for the caller to remove.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	key, err := agentKey(id)
	if err != nil {
		return fmt.Errorf("delete agent: %w", err)
	}
	if err := deleteValue(ctx, s, s.agents, key); err != nil {
		return fmt.Errorf("delete agent %s: %w", id, err)
	}
	return nil
}

// ListAgents returns every agent, by id, and the entries that are not
// readable agents.
func (s *Store) ListAgents(ctx context.Context) ([]hub.Agent, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.agents, "", func(key string, a hub.Agent) error {
		return belongs("an agent", func() (string, error) { return agentKey(a.ID) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list agents: %w", err)
	}
	return out, bad, nil
}
