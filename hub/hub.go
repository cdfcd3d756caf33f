// Package hub holds the hub's domain types: registered agents, delegated
// names and zones, issued certificates, pending challenges and agent status.
// Subpackages implement the parts: store (JetStream persistence), dnsserver
// (authoritative challenge DNS), issuer (ACME via lego), natsserver and
// natsauth (embedded NATS and agent credentials), service (the running
// hub) and cli (the certfleet-hub command).
package hub

import (
	"time"

	"github.com/certfleet/certfleet/shared"
)

// Agent is a registered agent and the names it may get certificates for.
// Only the hub writes it, from what admins ran; nothing an agent sends is
// stored here.
type Agent struct {
	ID string `json:"id"`
	// Allow holds allow-list patterns; see shared.MatchAllow.
	Allow []string `json:"allow"`
	// NKey is the public nkey of the agent's NATS user, used to revoke it.
	NKey string `json:"nkey,omitempty"`
	// Account is the NATS account the agent's current JWT was issued in;
	// empty for agents enrolled before agents had their own account, whom
	// the hub moves at their next hello.
	Account string `json:"account,omitempty"`
	// CredsExpire is when the agent's current user JWT expires.
	CredsExpire time.Time `json:"creds_expire,omitzero"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated,omitzero"`
}

// Delegation modes.
const (
	// ModeCNAME: the operator points _acme-challenge.<name> by CNAME at
	// <label>.<hub zone> (acme-dns style).
	ModeCNAME = "cname"
	// ModeZone: the whole zone is delegated to the hub by NS; every
	// _acme-challenge name under it is answered directly.
	ModeZone = "zone"
)

// Domain is a name (ModeCNAME) or a zone (ModeZone) whose DNS-01
// challenges the hub answers.
type Domain struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	// Label is the CNAME target's first label (ModeCNAME only).
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
}

// ChallengeName returns the _acme-challenge owner name for certificate name
// n (a wildcard's challenge is its base name's).
func ChallengeName(n string) string {
	if len(n) > 2 && n[:2] == "*." {
		n = n[2:]
	}
	return "_acme-challenge." + n + "."
}

// CNAMETarget returns the FQDN a ModeCNAME domain's challenge points at.
func (d Domain) CNAMETarget(hubZone string) string {
	return d.Label + "." + shared.NormalizeName(hubZone) + "."
}

// CertRecord is the public part of a certificate the hub obtained.
type CertRecord struct {
	AgentID   string    `json:"agent_id"`
	CertName  string    `json:"cert_name"`
	RequestID string    `json:"request_id"`
	Names     []string  `json:"names"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	RenewAt   time.Time `json:"renew_at,omitzero"`
	// Chain is PEM, leaf first.
	Chain   string    `json:"chain"`
	CA      string    `json:"ca"`
	CertURL string    `json:"cert_url,omitempty"`
	Profile string    `json:"profile,omitempty"`
	Issued  time.Time `json:"issued"`
}

// Challenge is a DNS-01 TXT record the hub serves while an order runs.
type Challenge struct {
	// FQDN is the owner name the hub's DNS answers (absolute, lower case).
	FQDN    string    `json:"fqdn"`
	Value   string    `json:"value"`
	Created time.Time `json:"created"`
}

// AgentStatus is the latest report of an agent and when it was seen.
type AgentStatus struct {
	AgentID  string              `json:"agent_id"`
	Report   shared.StatusReport `json:"report"`
	LastSeen time.Time           `json:"last_seen"`
	// Connected is true while the agent is known to be connected: set
	// when it is heard from, cleared by the server's disconnect events
	// (embedded NATS only). Ask Online, which also bounds the silence.
	Connected bool `json:"connected"`
}

// OfflineAfter is how long an agent may be silent before the hub shows
// it offline even without a disconnect event (an external NATS, a missed
// event): three of the agent's status intervals (5 minutes; every
// connected agent reports at least that often).
const OfflineAfter = 15 * time.Minute

// Online reports whether the agent was heard from within OfflineAfter
// before now.
func (s AgentStatus) Online(now time.Time) bool {
	return s.Connected && !s.LastSeen.IsZero() && now.Sub(s.LastSeen) < OfflineAfter
}

// RequestState tracks one certificate request from acceptance to result.
type RequestState struct {
	AgentID   string   `json:"agent_id"`
	RequestID string   `json:"request_id"`
	CertName  string   `json:"cert_name"`
	Names     []string `json:"names"`
	State     string   `json:"state"` // queued, ordering, issued, failed
	Attempts  int      `json:"attempts"`
	// CA is the [[ca]] the request is (or was last) ordered from, and
	// CAAttempts the attempts made there; after repeated failures the hub
	// falls back to the next configured CA.
	CA         string `json:"ca,omitempty"`
	CAAttempts int    `json:"ca_attempts,omitempty"`
	// OrderURL is the ACME order in flight, recorded before any challenge
	// is answered so a restarted hub resumes it instead of ordering again.
	OrderURL  string    `json:"order_url,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"`
	Updated   time.Time `json:"updated"`
	// Hub is the hub that drives the request while it is "ordering" (its
	// id, see the hub's run file), and Held when that hub last said it
	// still does. The holder rewrites the state every few seconds; another
	// hub takes the request over only once the state has stopped changing
	// (see package service).
	Hub  string    `json:"hub,omitempty"`
	Held time.Time `json:"held,omitzero"`
}

// Damaged is a stored entry that could not be read as what its place
// holds: undecodable, or decodable but foreign (its content does not
// belong under its key). Listings return the good entries and one Damaged
// per bad one, so one bad entry never hides the rest.
type Damaged struct {
	// Store is where the entry is: a KV bucket (e.g. "certfleet_agents")
	// or the audit stream ("CERTFLEET_AUDIT").
	Store string `json:"store"`
	// Key is the entry's key (for the audit stream, its sequence number).
	Key string `json:"key"`
	// Error says why it could not be read.
	Error string `json:"error"`
}
