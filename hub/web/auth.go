package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

const (
	sessionCookie = "certfleet_session"
	loginCookie   = "certfleet_login"
	// sessionTTL ends a session this long after login; idleTTL after the
	// last request.
	sessionTTL = 12 * time.Hour
	idleTTL    = time.Hour
	// A name is locked for lockFor after maxNameFailures failed logins; a
	// source address after maxAddrFailures (whatever the names tried).
	maxNameFailures = 5
	maxAddrFailures = 20
	lockFor         = 15 * time.Minute
	maxSessions     = 10000
)

type session struct {
	user    string
	role    string
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions are kept in memory: a restarted hub asks everyone to log in
// again, which is the safe failure.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
	// failures counts failed logins per name and per source address,
	// since the window's start.
	failures map[string]*failWindow
	now      func() time.Time
}

type failWindow struct {
	n     int
	start time.Time
}

func newSessions() *sessions {
	return &sessions{m: map[string]*session{}, failures: map[string]*failWindow{}, now: time.Now}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(user, role string) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxSessions {
		s.pruneLocked(now)
	}
	tok := randomToken()
	ss := &session{user: user, role: role, csrf: randomToken(), created: now, seen: now}
	s.m[tok] = ss
	return tok, ss
}

func (s *sessions) get(tok string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[tok]
	if ss == nil {
		return nil
	}
	now := s.now()
	if now.Sub(ss.created) > sessionTTL || now.Sub(ss.seen) > idleTTL {
		delete(s.m, tok)
		return nil
	}
	ss.seen = now
	cp := *ss
	return &cp
}

func (s *sessions) drop(tok string) {
	s.mu.Lock()
	delete(s.m, tok)
	s.mu.Unlock()
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, ss := range s.m {
		if now.Sub(ss.created) > sessionTTL || now.Sub(ss.seen) > idleTTL {
			delete(s.m, k)
		}
	}
	for k, f := range s.failures {
		if now.Sub(f.start) > lockFor {
			delete(s.failures, k)
		}
	}
}

// locked reports whether name or addr has too many recent failures.
func (s *sessions) locked(name, addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	over := func(key string, max int) bool {
		f := s.failures[key]
		return f != nil && now.Sub(f.start) <= lockFor && f.n >= max
	}
	return over("name:"+name, maxNameFailures) || over("addr:"+addr, maxAddrFailures)
}

func (s *sessions) fail(name, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.failures) > 4*maxSessions {
		s.pruneLocked(now)
	}
	for _, key := range []string{"name:" + name, "addr:" + addr} {
		f := s.failures[key]
		if f == nil || now.Sub(f.start) > lockFor {
			f = &failWindow{start: now}
			s.failures[key] = f
		}
		f.n++
	}
}

func (s *sessions) succeed(name string) {
	s.mu.Lock()
	delete(s.failures, "name:"+name)
	s.mu.Unlock()
}

// clientAddr is the request's source address, grouped by /64 for IPv6 so
// one host cannot rotate addresses around the limit. Forwarded headers are
// ignored: anyone can write them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.Unmap().String()
}

func tokenEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
