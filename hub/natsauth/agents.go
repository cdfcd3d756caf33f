package natsauth

import (
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/shared"
)

// IssueAgent makes a fresh user key for agent id and a JWT for it that
// expires after ttl (0 < ttl <= MaxAgentTTL). It returns the creds file
// (JWT and seed) to hand to the agent once, the user's public key (keep it
// to renew and revoke) and the expiry. The hub keeps no copy of the seed.
//
// The JWT is signed by the scoped signing key and carries no permissions of
// its own: the key's template (AgentTemplate) supplies them, with the JWT
// name, id, filled in.
func (a *Authority) IssueAgent(id string, ttl time.Duration) (creds []byte, pub string, expires time.Time, err error) {
	if err := checkAgent(id, ttl); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds: %w", err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds for %s: create user key: %w", id, err)
	}
	defer ukp.Wipe()
	pub, err = ukp.PublicKey()
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds for %s: %w", id, err)
	}
	tok, expires, err := a.signAgent(id, pub, ttl)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds for %s: %w", id, err)
	}
	// Seed returns the key's own slice, wiped with ukp.
	seed, err := ukp.Seed()
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds for %s: %w", id, err)
	}
	creds, err = jwt.FormatUserConfig(tok, seed)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issue agent creds for %s: format creds: %w", id, err)
	}
	return creds, pub, expires, nil
}

// RenewAgentJWT signs a new JWT for the agent's existing user key pub,
// valid for ttl. The agent swaps it into its creds file and keeps its seed.
// A revoked key gets ErrRevoked.
func (a *Authority) RenewAgentJWT(id, pub string, ttl time.Duration) (string, time.Time, error) {
	if err := checkAgent(id, ttl); err != nil {
		return "", time.Time{}, fmt.Errorf("renew agent jwt: %w", err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", time.Time{}, fmt.Errorf("renew agent jwt for %s: %q is not a user public key", id, pub)
	}
	if a.IsRevoked(pub) {
		return "", time.Time{}, fmt.Errorf("renew agent jwt for %s: %s: %w", id, pub, ErrRevoked)
	}
	tok, exp, err := a.signAgent(id, pub, ttl)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("renew agent jwt for %s: %w", id, err)
	}
	return tok, exp, nil
}

func checkAgent(id string, ttl time.Duration) error {
	// The id becomes a subject token through the template; the shared rule
	// keeps dots and wildcards out, so no agent can widen its permissions.
	if err := shared.ValidateAgentID(id); err != nil {
		return err
	}
	if ttl <= 0 || ttl > MaxAgentTTL {
		return fmt.Errorf("ttl %s: want more than 0 and at most %s", ttl, MaxAgentTTL)
	}
	return nil
}

func (a *Authority) signAgent(id, pub string, ttl time.Duration) (string, time.Time, error) {
	uc := jwt.NewUserClaims(pub)
	uc.Name = id
	uc.IssuerAccount = a.agentsPub
	// A scoped key may only sign users without permissions or limits.
	uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	// Whole seconds, as in the JWT, so the caller sees the real expiry.
	exp := time.Now().Add(ttl).Truncate(time.Second)
	uc.Expires = exp.Unix()
	tok, err := uc.Encode(a.signer)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign user jwt: %w", err)
	}
	return tok, exp, nil
}
