package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// PutChallenge stores c under key (an id the caller derives from name and
// value) with a TTL of Options.ChallengeTTL, so a challenge whose order
// crashed disappears by itself. Putting an existing key again restarts its
// TTL: a CA may hand out the same pending authorization after a restart.
func (s *Store) PutChallenge(ctx context.Context, key string, c hub.Challenge) error {
	k, err := challengeKey(key)
	if err != nil {
		return fmt.Errorf("put challenge: %w", err)
	}
	if c.FQDN == "" || c.Value == "" || len(c.Value) > 255 {
		return fmt.Errorf("put challenge %s: want an fqdn and a value of 1-255 bytes", k)
	}
	err = createValue(ctx, s, s.challenges, k, c, s.opts.ChallengeTTL)
	if errors.Is(err, ErrExists) {
		// Per-key TTLs are only set on create; remove and create again.
		if err = s.purgeChallenge(ctx, k); err == nil {
			err = createValue(ctx, s, s.challenges, k, c, s.opts.ChallengeTTL)
		}
	}
	if err != nil {
		return fmt.Errorf("put challenge %s: %w", k, err)
	}
	return nil
}

// GetChallenge returns the challenge under key, or ErrNotFound (also once
// its TTL expired).
func (s *Store) GetChallenge(ctx context.Context, key string) (hub.Challenge, error) {
	k, err := challengeKey(key)
	if err != nil {
		return hub.Challenge{}, fmt.Errorf("get challenge: %w", err)
	}
	c, _, err := getValue[hub.Challenge](ctx, s, s.challenges, k)
	if err != nil {
		return hub.Challenge{}, fmt.Errorf("get challenge %s: %w", k, err)
	}
	return c, nil
}

// DeleteChallenge removes the challenge under key. Removing one that is
// already gone (cleaned up or expired) is not an error.
func (s *Store) DeleteChallenge(ctx context.Context, key string) error {
	k, err := challengeKey(key)
	if err != nil {
		return fmt.Errorf("delete challenge: %w", err)
	}
	_, _, err = getValue[hub.Challenge](ctx, s, s.challenges, k)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil {
		err = s.purgeChallenge(ctx, k)
	}
	if err != nil {
		return fmt.Errorf("delete challenge %s: %w", k, err)
	}
	return nil
}

// purgeChallenge removes key, leaving a marker that itself expires, so
// challenge keys (one per order) do not pile up as markers.
func (s *Store) purgeChallenge(ctx context.Context, key string) error {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.challenges.Purge(cctx, key, jetstream.PurgeTTL(challengeMarkerTTL))
}

// ListChallenges returns every live challenge, by key, and the entries
// that are not readable challenges (their keys are opaque, so a challenge
// is foreign only when it names no record).
func (s *Store) ListChallenges(ctx context.Context) ([]hub.Challenge, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.challenges, "", func(_ string, c hub.Challenge) error {
		if c.FQDN == "" || c.Value == "" {
			return errors.New("foreign entry: a challenge without name or value")
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list challenges: %w", err)
	}
	return out, bad, nil
}

// WatchChallenges calls fn for every live challenge, returns once it has,
// then calls fn for every change until ctx ends or the Watch is stopped:
// put=true for a new challenge, put=false when one is deleted or expires
// (with the challenge as last seen, so the DNS server knows the name).
func (s *Store) WatchChallenges(ctx context.Context, fn func(put bool, key string, c hub.Challenge)) (*Watch, error) {
	w, err := watchBucket(ctx, s, s.challenges, fn)
	if err != nil {
		return nil, fmt.Errorf("watch challenges: %w", err)
	}
	return w, nil
}
