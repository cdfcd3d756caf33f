package acmedns

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterMax bounds the tracked client prefixes; past it, idle ones are
// dropped (and, under a flood from more sources than that, all of them:
// the limit then errs towards letting clients through).
const (
	limiterMax  = 50000
	limiterIdle = 10 * time.Minute
)

// limiter is a token bucket per client prefix (/32 for IPv4, /64 for
// IPv6, since one host usually holds a whole /64).
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[netip.Prefix]*limEntry
}

type limEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(r float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(r), burst: burst, m: map[netip.Prefix]*limEntry{}}
}

func clientPrefix(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

func (l *limiter) allow(a netip.Addr, now time.Time) bool {
	key := clientPrefix(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		if len(l.m) >= limiterMax {
			for k, v := range l.m {
				if now.Sub(v.seen) > limiterIdle {
					delete(l.m, k)
				}
			}
			if len(l.m) >= limiterMax {
				clear(l.m)
			}
		}
		e = &limEntry{l: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	return e.l.AllowN(now, 1)
}

// limited applies the per-client limit before h.
func (a *API) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.limiter != nil {
			client := a.clientAddr(r)
			if !a.limiter.allow(client, time.Now()) {
				a.log.Warn("acme-dns request rate-limited", "client", client, "path", r.URL.Path)
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusTooManyRequests, jsonError(errRateLimited))
				return
			}
		}
		h(w, r)
	}
}
