package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// BucketAlarms holds which alarm conditions each [[alarm]] channel was
// sent, so a restarted hub does not send them again and several hubs do
// not each send them: a hub claims an entry (create, or update at the
// revision it read) before it sends.
const BucketAlarms = "certfleet_alarms"

// Alarm record states.
const (
	AlarmSending   = "sending"   // claimed by a hub that is sending "raised"
	AlarmRaised    = "raised"    // the channel was told
	AlarmResolving = "resolving" // claimed by a hub that is sending "resolved"
)

// AlarmRecord is one condition as a channel knows it.
type AlarmRecord struct {
	Channel string `json:"channel"`
	// Condition is the condition's key (kind/agent/cert).
	Condition string    `json:"condition"`
	Kind      string    `json:"kind"`
	Agent     string    `json:"agent"`
	Cert      string    `json:"cert,omitempty"`
	Message   string    `json:"message"`
	Since     time.Time `json:"since,omitzero"`
	State     string    `json:"state"`
	// Claimed is when the state last changed; a "sending" or "resolving"
	// claim older than a few minutes belongs to a hub that died mid-send.
	Claimed time.Time `json:"claimed"`
	Raised  time.Time `json:"raised,omitzero"`
}

// AlarmKey is the KV key of a channel's condition: the condition key is
// hashed, since agent and certificate names may hold characters KV keys
// cannot.
func AlarmKey(channel, condition string) string {
	sum := sha256.Sum256([]byte(condition))
	return channel + "." + hex.EncodeToString(sum[:16])
}

// GetAlarm returns the record and its revision, or ErrNotFound.
func (s *Store) GetAlarm(ctx context.Context, channel, condition string) (AlarmRecord, uint64, error) {
	return getValue[AlarmRecord](ctx, s, s.alarms, AlarmKey(channel, condition))
}

// CreateAlarm claims a condition not yet known to the channel: ErrExists
// when another hub (or an earlier round) has it.
func (s *Store) CreateAlarm(ctx context.Context, r AlarmRecord) error {
	if err := createValue(ctx, s, s.alarms, AlarmKey(r.Channel, r.Condition), r, 0); err != nil {
		return fmt.Errorf("claim alarm %s %s: %w", r.Channel, r.Condition, err)
	}
	return nil
}

// UpdateAlarm writes r only if the record is still at rev: ErrConflict
// when another hub wrote in between.
func (s *Store) UpdateAlarm(ctx context.Context, r AlarmRecord, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	n, err := s.alarms.Update(cctx, AlarmKey(r.Channel, r.Condition), b, rev)
	if isRevisionConflict(err) {
		return 0, fmt.Errorf("update alarm %s %s: %w", r.Channel, r.Condition, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("update alarm %s %s: %w", r.Channel, r.Condition, err)
	}
	return n, nil
}

// DeleteAlarm forgets a condition, only if the record is still at rev.
func (s *Store) DeleteAlarm(ctx context.Context, r AlarmRecord, rev uint64) error {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.alarms.Delete(cctx, AlarmKey(r.Channel, r.Condition), jetstream.LastRevision(rev))
	if isRevisionConflict(err) {
		return fmt.Errorf("delete alarm %s %s: %w", r.Channel, r.Condition, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("delete alarm %s %s: %w", r.Channel, r.Condition, err)
	}
	return nil
}

// ListAlarms returns the records of channel.
func (s *Store) ListAlarms(ctx context.Context, channel string) ([]AlarmRecord, []hub.Damaged, error) {
	recs, bad, err := listValues(ctx, s, s.alarms, channel+".*", func(key string, r AlarmRecord) error {
		if r.Channel != channel || AlarmKey(r.Channel, r.Condition) != key {
			return errors.New("foreign entry: its channel and condition do not give its key")
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list alarms of %s: %w", channel, err)
	}
	return recs, bad, nil
}
