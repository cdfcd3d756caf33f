package dnsserver

import (
	"net"
	"time"
)

// TCP connections are a fixed budget (maxConns) shared among source
// prefixes (/24, /56) so that a flood cannot lock a CA's validator out:
//
//   - one prefix holds at most maxPerPrefix connections;
//   - when the budget is spent, a connection from a prefix holding fewer
//     than the heaviest prefix still gets in: the heaviest prefix's oldest
//     connection is closed to make room. A flood from one or a few
//     prefixes therefore never keeps a newcomer out, and many prefixes
//     end up with even shares;
//   - while more than 3/4 of the budget is in use, connections idle out
//     after pressureTimeout instead of the normal timeouts, the open ones
//     included.

// tcpLimits are the TCP budget and timeouts.
type tcpLimits struct {
	maxConns        int
	maxPerPrefix    int
	firstTimeout    time.Duration // until the first query
	idleTimeout     time.Duration // between queries
	pressureTimeout time.Duration // either, under pressure
}

func defaultTCPLimits() tcpLimits {
	return tcpLimits{maxConns: maxTCPConns, maxPerPrefix: maxTCPConnsPerPrefix,
		firstTimeout: tcpFirstTimeout, idleTimeout: tcpIdleTimeout, pressureTimeout: tcpPressureTimeout}
}

// connInfo is what the transport keeps per open TCP connection.
type connInfo struct {
	pfx    uint64
	opened time.Time
}

// pressured reports whether more than 3/4 of the budget is in use for n
// open connections.
func (l tcpLimits) pressured(n int) bool { return 4*n > 3*l.maxConns }

// track registers a new connection; false when closing, when its prefix
// has its share, or when the budget is spent and no heavier prefix can
// give one up.
func (t *transport) track(c net.Conn) bool {
	pfx := prefixKey(remoteAddr(c))
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.byPfx[pfx] >= t.lim.maxPerPrefix {
		return false
	}
	if len(t.conns) >= t.lim.maxConns {
		victim, ok := t.evictable(t.byPfx[pfx] + 1)
		if !ok {
			return false
		}
		// Its goroutine sees the close and untracks; the slot is ours now.
		t.forget(victim)
		_ = victim.Close()
	}
	t.conns[c] = connInfo{pfx: pfx, opened: now}
	t.byPfx[pfx]++
	t.open.Store(int32(len(t.conns)))
	t.wg.Add(1)
	if t.lim.pressured(len(t.conns)) && !t.squeeze {
		// Pressure starts: the open connections get the short timeout
		// too, not only those that read next.
		t.squeeze = true
		for oc := range t.conns {
			_ = oc.SetReadDeadline(now.Add(t.lim.pressureTimeout))
		}
	}
	return true
}

// evictable returns the oldest connection of the prefix holding the most
// connections, if that prefix holds more than want (what the newcomer's
// prefix will hold), so evicting it never leaves that prefix below the
// newcomer's. Caller holds t.mu.
func (t *transport) evictable(want int) (net.Conn, bool) {
	most := 0
	for _, n := range t.byPfx {
		most = max(most, n)
	}
	if most <= want {
		return nil, false
	}
	// Among prefixes tied for the most, the oldest connection goes, so the
	// choice does not depend on map order.
	var victim net.Conn
	var oldest time.Time
	for c, ci := range t.conns {
		if t.byPfx[ci.pfx] == most && (victim == nil || ci.opened.Before(oldest)) {
			victim, oldest = c, ci.opened
		}
	}
	return victim, victim != nil
}

// forget drops c from the accounting. Caller holds t.mu.
func (t *transport) forget(c net.Conn) {
	ci, ok := t.conns[c]
	if !ok {
		return
	}
	delete(t.conns, c)
	if t.byPfx[ci.pfx]--; t.byPfx[ci.pfx] <= 0 {
		delete(t.byPfx, ci.pfx)
	}
	t.open.Store(int32(len(t.conns)))
	if !t.lim.pressured(len(t.conns)) {
		t.squeeze = false
	}
}

// untrack closes c and drops it, unless an eviction did already.
func (t *transport) untrack(c net.Conn) {
	_ = c.Close()
	t.mu.Lock()
	t.forget(c)
	t.mu.Unlock()
	t.wg.Done()
}

// readTimeout is how long a connection may wait for its next query.
func (t *transport) readTimeout(first bool) time.Duration {
	switch {
	case t.lim.pressured(int(t.open.Load())):
		return t.lim.pressureTimeout
	case first:
		return t.lim.firstTimeout
	default:
		return t.lim.idleTimeout
	}
}
