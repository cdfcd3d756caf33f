package metrics

import (
	"time"

	"github.com/certfleet/certfleet/hub/dnsserver"
)

// Certificate states, worst first. A certificate is in the first that
// applies.
const (
	StateExpired  = "expired"   // past NotAfter
	StateFailing  = "failing"   // its last renewal attempt failed
	StateExpiring = "expiring"  // under a sixth of its lifetime left: renewal is late
	StateRenewDue = "renew_due" // past its renewal time, renewal not done yet
	StateValid    = "valid"
)

// States lists every certificate state, so each is exported (as 0 when
// empty) and a dashboard never shows "no data" for a healthy fleet.
var States = []string{StateExpired, StateFailing, StateExpiring, StateRenewDue, StateValid}

// Fleet is the state of the fleet at one moment.
type Fleet struct {
	Certs []Cert
	// AgentsRegistered counts enrolled agents; AgentsOnline those heard
	// from within agents.silent_after.
	AgentsRegistered int
	AgentsOnline     int
	// QueueDepth is requests in the durable queue (waiting or in progress).
	QueueDepth uint64
	// Requests counts tracked requests by state (queued, ordering, ...).
	Requests map[string]int
	// Dropped counts agent messages dropped unanswered, by reason.
	Dropped map[string]uint64
	// DNS holds the challenge DNS server's counters; nil when not running.
	DNS *dnsserver.Stats
	// Unmanaged are the expiry times of the certificates agents found in
	// their [inventory] paths that certfleet does not manage (exported
	// as counts by state only: their paths would be unbounded labels).
	Unmanaged []time.Time
	// Issuance is this hub's issuance pace; nil before it runs.
	Issuance *Issuance
}

// Unmanaged certificate states.
const (
	UnmanagedExpired  = "expired"
	UnmanagedExpiring = "expiring_14d" // expires within UnmanagedWarn
	UnmanagedValid    = "valid"
)

// UnmanagedWarn is how far ahead an unmanaged certificate counts as
// expiring, as the hub's status alert does.
const UnmanagedWarn = 14 * 24 * time.Hour

// UnmanagedState classifies an unmanaged certificate expiring at notAfter.
func UnmanagedState(notAfter, now time.Time) string {
	switch left := notAfter.Sub(now); {
	case left < 0:
		return UnmanagedExpired
	case left < UnmanagedWarn:
		return UnmanagedExpiring
	}
	return UnmanagedValid
}

// Issuance is this hub's issuance pace (see package pace).
type Issuance struct {
	// Limit is how many orders may be in flight now, InFlight how many
	// are, Drops how often the limit was cut.
	Limit, InFlight, Drops int
	// HeldUntil is when a CA's Retry-After stops holding new orders.
	HeldUntil time.Time
	// Waiting counts requests waiting outside the queue for a CA budget
	// or Retry-After, as this hub sees them.
	Waiting int
}

// Cert is one certificate an agent reported.
type Cert struct {
	Agent, Name string
	NotBefore   time.Time
	NotAfter    time.Time
	RenewAt     time.Time
	// LastResult is the agent's last attempt: "ok", "failed", "pending", "".
	LastResult string
}

// State classifies c at now.
func (c Cert) State(now time.Time) string {
	left := c.NotAfter.Sub(now)
	switch {
	case left < 0:
		return StateExpired
	case c.LastResult == "failed":
		return StateFailing
	case left < c.NotAfter.Sub(c.NotBefore)/6:
		return StateExpiring
	case !c.RenewAt.IsZero() && now.After(c.RenewAt):
		return StateRenewDue
	}
	return StateValid
}
