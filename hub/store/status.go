package store

import (
	"context"
	"fmt"

	"github.com/certfleet/certfleet/hub"
)

// PutStatus writes st, keyed by st.AgentID.
func (s *Store) PutStatus(ctx context.Context, st hub.AgentStatus) error {
	key, err := agentKey(st.AgentID)
	if err != nil {
		return fmt.Errorf("put status: %w", err)
	}
	if err := putValue(ctx, s, s.status, key, st); err != nil {
		return fmt.Errorf("put status %s: %w", key, err)
	}
	return nil
}

// GetStatus returns agent id's latest status, or ErrNotFound.
func (s *Store) GetStatus(ctx context.Context, id string) (hub.AgentStatus, error) {
	key, err := agentKey(id)
	if err != nil {
		return hub.AgentStatus{}, fmt.Errorf("get status: %w", err)
	}
	st, _, err := getValue[hub.AgentStatus](ctx, s, s.status, key)
	if err != nil {
		return hub.AgentStatus{}, fmt.Errorf("get status %s: %w", key, err)
	}
	return st, nil
}

// UpdateStatus applies fn to agent id's status (the zero value with
// AgentID set when there is none yet) and writes it only if nobody changed
// it meanwhile, retrying fn on conflict. Reports and connection events
// arrive concurrently; this keeps one from overwriting the other.
func (s *Store) UpdateStatus(ctx context.Context, id string, fn func(*hub.AgentStatus) error) (hub.AgentStatus, error) {
	key, err := agentKey(id)
	if err != nil {
		return hub.AgentStatus{}, fmt.Errorf("update status: %w", err)
	}
	st, err := updateValue(ctx, s, s.status, key, true, func(st *hub.AgentStatus) error {
		st.AgentID = id
		if err := fn(st); err != nil {
			return err
		}
		if st.AgentID != id {
			return fmt.Errorf("agent id changed from %q to %q", id, st.AgentID)
		}
		return nil
	})
	if err != nil {
		return hub.AgentStatus{}, fmt.Errorf("update status %s: %w", id, err)
	}
	return st, nil
}

// DeleteStatus removes agent id's status (ErrNotFound if none).
func (s *Store) DeleteStatus(ctx context.Context, id string) error {
	key, err := agentKey(id)
	if err != nil {
		return fmt.Errorf("delete status: %w", err)
	}
	if err := deleteValue(ctx, s, s.status, key); err != nil {
		return fmt.Errorf("delete status %s: %w", key, err)
	}
	return nil
}

// ListStatus returns every agent's latest status, by agent id, and the
// entries that are not readable statuses.
func (s *Store) ListStatus(ctx context.Context) ([]hub.AgentStatus, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.status, "", func(key string, st hub.AgentStatus) error {
		return belongs("an agent status", func() (string, error) { return agentKey(st.AgentID) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list status: %w", err)
	}
	return out, bad, nil
}
