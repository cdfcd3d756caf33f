package acmedns

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// dummyHash is compared against when the user does not exist, so an
// unknown username takes as long as a wrong key.
var dummyHash = func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("certfleet-acmedns-dummy-key-0000000000000"), BcryptCost)
	if err != nil {
		panic(err)
	}
	return h
}()

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// authenticate checks X-Api-User/X-Api-Key and the registration's
// allowfrom against the client address. On failure it has answered.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (hub.ACMEDNSRegistration, bool) {
	client := a.clientAddr(r)
	forbid := func(reason string, args ...any) (hub.ACMEDNSRegistration, bool) {
		a.log.Info("acme-dns request refused: "+reason, append([]any{"client", client, "path", r.URL.Path}, args...)...)
		writeJSON(w, http.StatusUnauthorized, jsonError(errForbidden))
		return hub.ACMEDNSRegistration{}, false
	}
	user, err := ParseUsername(r.Header.Get("X-Api-User"))
	if err != nil {
		return forbid("invalid X-Api-User")
	}
	key := r.Header.Get("X-Api-Key")
	if !ValidKey(key) {
		return forbid("invalid X-Api-Key", "username", user)
	}
	reg, err := a.store.GetACMEDNS(r.Context(), user)
	if isNotFound(err) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(key))
		return forbid("unknown username", "username", user)
	}
	if err != nil {
		a.log.Error("acme-dns: read registration", "username", user, "err", err)
		writeJSON(w, http.StatusInternalServerError, jsonError(errDB))
		return hub.ACMEDNSRegistration{}, false
	}
	if !a.auth.verify(reg, key) {
		return forbid("wrong key", "username", user)
	}
	if !allowedFrom(reg.AllowFrom, client) {
		return forbid("address not in allowfrom", "username", user)
	}
	return reg, true
}

// clientAddr is the address allowfrom and the rate limit apply to: the
// peer, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not itself a trusted proxy. An invalid address
// (a garbled header) matches no allowfrom entry.
func (a *API) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	peer := ap.Addr().Unmap()
	if !a.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	var list []string
	for _, h := range hops {
		list = append(list, strings.Split(h, ",")...)
	}
	// Walk from the nearest hop: each trusted proxy vouches for the one
	// before it; the first untrusted address is the client.
	addr := peer
	for i := len(list) - 1; i >= 0; i-- {
		s := strings.TrimSpace(list[i])
		if s == "" {
			continue
		}
		x, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return netip.Addr{}
		}
		addr = x.Unmap()
		if !a.trusted(addr) {
			return addr
		}
	}
	return addr
}

func (a *API) trusted(addr netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// authCache remembers keys bcrypt has already accepted, so a client's
// second /update (the wildcard of the same order) does not pay ~50 ms of
// bcrypt again. It holds a SHA-256 of the key and the stored hash, never
// the key; a changed hash (re-import) or a different key misses.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	digest  [32]byte
	expires time.Time
}

const (
	authCacheTTL = 10 * time.Minute
	authCacheMax = 10000
)

func newAuthCache() *authCache { return &authCache{entries: map[string]authEntry{}} }

func authDigest(reg hub.ACMEDNSRegistration, key string) [32]byte {
	return sha256.Sum256([]byte(reg.Username + "\x00" + reg.PasswordHash + "\x00" + key))
}

func (c *authCache) verify(reg hub.ACMEDNSRegistration, key string) bool {
	d := authDigest(reg, key)
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[reg.Username]
	c.mu.Unlock()
	if ok && now.Before(e.expires) && subtle.ConstantTimeCompare(e.digest[:], d[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(reg.PasswordHash), []byte(key)) != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= authCacheMax {
		for u, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, u)
			}
		}
		if len(c.entries) >= authCacheMax {
			clear(c.entries)
		}
	}
	c.entries[reg.Username] = authEntry{digest: d, expires: now.Add(authCacheTTL)}
	return true
}

func (c *authCache) forget(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, username)
}
