package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ErrNoLiveRevocation is wrapped by Revoke on an external Authority: the
// user stays connected until its current JWT expires.
var ErrNoLiveRevocation = errors.New("external NATS: revocation takes effect when the user's JWT expires")

// pushTimeout bounds the wait for the server to confirm an account update.
const pushTimeout = 5 * time.Second

// Revoke revokes every JWT issued so far for user key pub. The revocation
// is written into the agents' account JWT (and, while layout-1 agents may
// connect, into the hub's account JWT too, where those live), saved to
// disk first, then pushed through nc, a connection of the system user
// (SystemCreds), to $SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE. The server
// closes the user's live connections and refuses new ones. With nc nil the
// revocation is only saved; it applies when the server next loads the
// account (ConfigureServer). Revoking again is harmless and pushes again,
// so a failed push can be retried.
//
// On an external Authority, Revoke only stops RenewAgentJWT for pub in this
// process and returns an error wrapping ErrNoLiveRevocation.
func (a *Authority) Revoke(nc *nats.Conn, pub string) error {
	if !nkeys.IsValidPublicUserKey(pub) {
		return fmt.Errorf("revoke: %q is not a user public key", pub)
	}
	now := time.Now()
	if a.External() {
		a.mu.Lock()
		a.revoked[pub] = now
		a.mu.Unlock()
		return fmt.Errorf("revoke %s: %w", pub, ErrNoLiveRevocation)
	}
	a.mu.Lock()
	// Held through the push so that pushes reach the server in order.
	defer a.mu.Unlock()
	accounts := []revocable{{agentsJWTFile, a.agentsPub, &a.agentsJWT, &a.agentsClaims}}
	if a.legacyPub != "" {
		accounts = append(accounts, revocable{accountJWTFile, a.accPub, &a.accJWT, &a.accClaims})
	}
	for _, r := range accounts {
		if err := a.revokeIn(nc, r, pub, now); err != nil {
			return fmt.Errorf("revoke %s: %w", pub, err)
		}
	}
	return nil
}

// revocable is an account JWT that Revoke updates: its file and the
// Authority's copy.
type revocable struct {
	file   string
	accPub string
	tok    *string
	claims **jwt.AccountClaims
}

// revokeIn signs pub's revocation into one account, saves and pushes it.
// a.mu is held.
func (a *Authority) revokeIn(nc *nats.Conn, r revocable, pub string, now time.Time) error {
	ac, err := jwt.DecodeAccountClaims(*r.tok)
	if err != nil {
		return fmt.Errorf("decode account %s: %w", r.accPub, err)
	}
	ac.RevokeAt(pub, now)
	pruneRevocations(ac, now)
	tok, err := ac.Encode(a.op)
	if err != nil {
		return fmt.Errorf("sign account %s: %w", r.accPub, err)
	}
	if err := replaceFile(filepath.Join(a.dir, r.file), []byte(tok+"\n")); err != nil {
		return err
	}
	*r.tok, *r.claims = tok, ac
	if a.resolver != nil {
		// So the server finds the revocation too if it reloads the account.
		if err := a.resolver.Store(r.accPub, tok); err != nil {
			return fmt.Errorf("update resolver: %w", err)
		}
	}
	if nc == nil {
		return nil
	}
	return pushAccount(nc, r.accPub, tok)
}

// IsRevoked reports whether pub has been revoked.
func (a *Authority) IsRevoked(pub string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.External() {
		_, ok := a.revoked[pub]
		return ok
	}
	_, ok := a.agentsClaims.Revocations[pub]
	return ok
}

// Revocations returns the revoked user keys with their revocation times.
func (a *Authority) Revocations() map[string]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]time.Time{}
	if a.External() {
		for k, t := range a.revoked {
			out[k] = t
		}
		return out
	}
	for k, ts := range a.agentsClaims.Revocations {
		out[k] = unix(ts)
	}
	return out
}

// pruneRevocations drops entries that no longer matter: every JWT issued
// before such an entry has expired, as agent JWTs live at most MaxAgentTTL.
func pruneRevocations(ac *jwt.AccountClaims, now time.Time) {
	cutoff := now.Add(-MaxAgentTTL - time.Hour).Unix()
	for k, ts := range ac.Revocations {
		if k != jwt.All && ts < cutoff {
			delete(ac.Revocations, k)
		}
	}
}

// pushAccount sends an account JWT to the servers and checks the answer.
// The per-account subject works with both the memory resolver of the
// embedded server and the full (directory) resolver of a cluster.
func pushAccount(nc *nats.Conn, accPub, tok string) error {
	msg, err := nc.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", accPub), []byte(tok), pushTimeout)
	if err != nil {
		return fmt.Errorf("push account jwt: %w", err)
	}
	var resp server.ServerAPIClaimUpdateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("push account jwt: parse answer: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("push account jwt: server: %s (code %d)", resp.Error.Description, resp.Error.Code)
	}
	return nil
}

func unix(ts int64) time.Time { return time.Unix(ts, 0) }
