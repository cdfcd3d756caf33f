package store

import (
	"context"
	"fmt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// PutCert writes rec as the latest certificate of its agent's block.
func (s *Store) PutCert(ctx context.Context, rec hub.CertRecord) error {
	key, err := certKey(rec.AgentID, rec.CertName)
	if err != nil {
		return fmt.Errorf("put cert: %w", err)
	}
	if err := putValue(ctx, s, s.certs, key, rec); err != nil {
		return fmt.Errorf("put cert %s: %w", key, err)
	}
	return nil
}

// GetCert returns the latest certificate of agent's block cert, or
// ErrNotFound.
func (s *Store) GetCert(ctx context.Context, agent, cert string) (hub.CertRecord, error) {
	key, err := certKey(agent, cert)
	if err != nil {
		return hub.CertRecord{}, fmt.Errorf("get cert: %w", err)
	}
	rec, _, err := getValue[hub.CertRecord](ctx, s, s.certs, key)
	if err != nil {
		return hub.CertRecord{}, fmt.Errorf("get cert %s: %w", key, err)
	}
	return rec, nil
}

// DeleteCert removes the record of agent's block cert (ErrNotFound if none).
func (s *Store) DeleteCert(ctx context.Context, agent, cert string) error {
	key, err := certKey(agent, cert)
	if err != nil {
		return fmt.Errorf("delete cert: %w", err)
	}
	if err := deleteValue(ctx, s, s.certs, key); err != nil {
		return fmt.Errorf("delete cert %s: %w", key, err)
	}
	return nil
}

// ListCerts returns the certificates of agent, or of every agent when
// agent is "", ordered by agent then block.
// The entries that are not readable records come second.
func (s *Store) ListCerts(ctx context.Context, agent string) ([]hub.CertRecord, []hub.Damaged, error) {
	filter := ""
	if agent != "" {
		a, err := agentKey(agent)
		if err != nil {
			return nil, nil, fmt.Errorf("list certs: %w", err)
		}
		filter = a + ".>"
	}
	out, bad, err := listValues(ctx, s, s.certs, filter, func(key string, c hub.CertRecord) error {
		return belongs("a certificate record", func() (string, error) { return certKey(c.AgentID, c.CertName) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list certs: %w", err)
	}
	return out, bad, nil
}

// PutResult keeps agent's result until the agent fetches it (and for
// Options.ResultTTL).
func (s *Store) PutResult(ctx context.Context, agent string, res shared.CertResult) error {
	key, err := requestKey(agent, res.RequestID)
	if err != nil {
		return fmt.Errorf("put result: %w", err)
	}
	if err := putValue(ctx, s, s.results, key, res); err != nil {
		return fmt.Errorf("put result %s: %w", key, err)
	}
	return nil
}

// GetResult returns the result of agent's request reqID, or ErrNotFound.
func (s *Store) GetResult(ctx context.Context, agent, reqID string) (shared.CertResult, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return shared.CertResult{}, fmt.Errorf("get result: %w", err)
	}
	res, _, err := getValue[shared.CertResult](ctx, s, s.results, key)
	if err != nil {
		return shared.CertResult{}, fmt.Errorf("get result %s: %w", key, err)
	}
	return res, nil
}
