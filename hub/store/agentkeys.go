package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub"
)

// AgentKey records one NATS user key the hub issued to an agent. The hub
// writes it before handing the credentials out, so every key it ever
// issued can be revoked, whatever else happens to the agent's record.
type AgentKey struct {
	Key     string    `json:"key"`
	Agent   string    `json:"agent"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires,omitzero"`
	// Revoked is set once the key's revocation is in force.
	Revoked time.Time `json:"revoked,omitzero"`
}

func agentKeyKey(pub string) (string, error) {
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("%q is not a user public key", pub)
	}
	return pub, nil
}

// PutAgentKey records k.
func (s *Store) PutAgentKey(ctx context.Context, k AgentKey) error {
	key, err := agentKeyKey(k.Key)
	if err != nil {
		return fmt.Errorf("put agent key: %w", err)
	}
	if _, err := agentKey(k.Agent); err != nil {
		return fmt.Errorf("put agent key: %w", err)
	}
	if err := putValue(ctx, s, s.agentKeys, key, k); err != nil {
		return fmt.Errorf("put agent key %s: %w", key, err)
	}
	return nil
}

// GetAgentKey returns the record of user key pub, or ErrNotFound.
func (s *Store) GetAgentKey(ctx context.Context, pub string) (AgentKey, error) {
	key, err := agentKeyKey(pub)
	if err != nil {
		return AgentKey{}, fmt.Errorf("get agent key: %w", err)
	}
	k, _, err := getValue[AgentKey](ctx, s, s.agentKeys, key)
	if err != nil {
		return AgentKey{}, fmt.Errorf("get agent key %s: %w", key, err)
	}
	return k, nil
}

// AgentKeys returns every key issued to agent, and the key records that
// could not be read (whose agent is therefore unknown).
func (s *Store) AgentKeys(ctx context.Context, agent string) ([]AgentKey, []hub.Damaged, error) {
	if _, err := agentKey(agent); err != nil {
		return nil, nil, fmt.Errorf("agent keys: %w", err)
	}
	all, damaged, err := listValues(ctx, s, s.agentKeys, "", func(key string, k AgentKey) error {
		if k.Key != key {
			return fmt.Errorf("record of key %q stored under %q", k.Key, key)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("agent keys of %s: %w", agent, err)
	}
	var out []AgentKey
	for _, k := range all {
		if k.Agent == agent {
			out = append(out, k)
		}
	}
	return out, damaged, nil
}
