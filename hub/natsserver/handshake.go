package natsserver

import (
	"crypto/tls"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A fleet reconnecting at once (after a hub restart or a network outage)
// starts thousands of TLS handshakes in the same second. Run all at once,
// they share the CPU fairly and all finish late: past the client's and the
// server's handshake timeouts, so every one fails, every agent backs off
// further and the storm repeats. The gate admits a bounded number of
// handshakes at a time (the rest wait their turn, in order, for a while),
// so that the admitted ones finish in milliseconds and the fleet comes back
// at the rate the CPU allows.
//
// A handshake holds its slot from the ClientHello until the server has
// checked the client's Finished (VerifyConnection, which Go calls on every
// server handshake), so the slot also covers one round trip to the client:
// the bound is generous enough for agents across a WAN.

// handshakesPerCPU bounds handshakes in progress per CPU.
const handshakesPerCPU = 64

// errHandshakeBusy ends a handshake that found no slot in time; the client
// retries after its back-off.
var errHandshakeBusy = errors.New("too many tls handshakes in progress; try again later")

// handshakeGate bounds concurrent TLS handshakes.
type handshakeGate struct {
	slots chan struct{}
	// wait: how long a handshake waits for a slot; hold: when a slot is
	// taken back from a handshake that never finished (the client went
	// away), at the latest.
	wait, hold time.Duration
	refused    atomic.Uint64
}

func newHandshakeGate(n int, wait, hold time.Duration) *handshakeGate {
	return &handshakeGate{slots: make(chan struct{}, max(n, 1)), wait: wait, hold: hold}
}

// defaultHandshakeGate sizes the gate for this machine and a server whose
// handshake timeout is timeout.
func defaultHandshakeGate(timeout time.Duration) *handshakeGate {
	return newHandshakeGate(handshakesPerCPU*runtime.GOMAXPROCS(0), timeout/2, timeout)
}

// config returns a copy of base whose handshakes pass through the gate.
// A GetConfigForClient of base is kept: it runs once a slot is held.
func (g *handshakeGate) config(base *tls.Config) *tls.Config {
	out := base.Clone()
	inner := base.GetConfigForClient
	perConn := base.Clone()
	perConn.GetConfigForClient = nil
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		release, ok := g.acquire()
		if !ok {
			return nil, errHandshakeBusy
		}
		c := perConn
		if inner != nil {
			ic, err := inner(hello)
			if err != nil {
				release()
				return nil, err
			}
			if ic != nil {
				c = ic
			}
		}
		// A config of its own, so that its VerifyConnection releases this
		// handshake's slot.
		c = c.Clone()
		verify := c.VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			release()
			if verify != nil {
				return verify(cs)
			}
			return nil
		}
		return c, nil
	}
	return out
}

// acquire waits up to g.wait for a slot. The release it returns is
// idempotent and also runs by itself after g.hold, for handshakes that
// end before VerifyConnection.
func (g *handshakeGate) acquire() (release func(), ok bool) {
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		g.refused.Add(1)
		return nil, false
	}
	var once sync.Once
	release = func() { once.Do(func() { <-g.slots }) }
	// Fires as a no-op when the handshake released its slot already.
	time.AfterFunc(g.hold, release)
	return release, true
}

// inFlight returns the handshakes holding a slot.
func (g *handshakeGate) inFlight() int { return len(g.slots) }
