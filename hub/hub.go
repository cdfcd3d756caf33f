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
	// Reported is when a hub received Report (zero before this field
	// existed): several hubs write an agent's status, and an older report
	// must not replace a newer one.
	Reported time.Time `json:"reported,omitzero"`
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

// Request states: queued until a hub takes it, waiting (outside the
// queue) for a CA's rate-limit budget, ordering while its ACME order runs,
// retrying between attempts, then issued or failed for good.
const (
	RequestQueued   = "queued"
	RequestWaiting  = "waiting"
	RequestOrdering = "ordering"
	RequestRetrying = "retrying"
	RequestIssued   = "issued"
	RequestFailed   = "failed"
)

// RequestState tracks one certificate request from acceptance to result.
type RequestState struct {
	AgentID   string   `json:"agent_id"`
	RequestID string   `json:"request_id"`
	CertName  string   `json:"cert_name"`
	Names     []string `json:"names"`
	State     string   `json:"state"` // one of the Request* states
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
	// WaitReason says why a waiting request waits: the CA budget it waits
	// for (state "waiting") or the CA's rate limit (state "retrying").
	// NextTry is when it is next tried.
	WaitReason string `json:"wait_reason,omitempty"`
	// PaidCA names the [[ca]] whose budgets were already spent for the
	// request's next order, when a waiting request was released; the
	// order then spends none again.
	PaidCA string `json:"paid_ca,omitempty"`
	// QueueMsgID is the id of the queue message that carries the request
	// since it was last released from waiting: another copy (left by a
	// crash between parking steps) is stale and dropped.
	QueueMsgID string `json:"queue_msg_id,omitempty"`
	// WaitingSince is when the request first waited; it keeps its place
	// among the waiting when it has to wait again.
	WaitingSince time.Time `json:"waiting_since,omitzero"`
	// Hub is the hub that drives the request while it is "ordering" (its
	// id, see the hub's run file), and Held when that hub last said it
	// still does. The holder rewrites the state every few seconds; another
	// hub takes the request over only once the state has stopped changing
	// (see package service).
	Hub  string    `json:"hub,omitempty"`
	Held time.Time `json:"held,omitzero"`
}

// Kinds of WaitingRequest.
const (
	// WaitBudget: the request waits for room in its CA's budgets
	// ([ca.limits]).
	WaitBudget = "budget"
	// WaitRetry: the CA rate-limited the request; it is retried at
	// NotBefore (the CA's Retry-After).
	WaitRetry = "retry"
)

// WaitingRequest is a request parked outside the request queue, and so
// outside the consumer's window of unacknowledged messages, until it may
// be ordered: a 10,000-host rollout waiting for its CA's budget holds no
// queue slot that a renewal needs. A hub queues it again, in priority
// order, once its time has come.
type WaitingRequest struct {
	AgentID   string `json:"agent_id"`
	RequestID string `json:"request_id"`
	// Request is the queue message's body (a shared.CertRequest), queued
	// again as it is.
	Request []byte   `json:"request"`
	CA      string   `json:"ca"`
	Names   []string `json:"names"`
	Kind    string   `json:"kind"` // WaitBudget or WaitRetry
	// Renewal: the request renews a certificate in use (same names); Due
	// is when that certificate expires.
	Renewal bool      `json:"renewal,omitempty"`
	Due     time.Time `json:"due,omitzero"`
	// NotBefore is when the request may be tried again.
	NotBefore time.Time `json:"not_before"`
	Reason    string    `json:"reason"`
	// Parked is when this parking began; it tells one parking of a
	// request from a later one. Since is when the request first waited.
	Parked time.Time `json:"parked"`
	Since  time.Time `json:"since"`
	// Claim is the hub instance releasing the request, until ClaimUntil;
	// a hub that dies while releasing leaves it to others after that.
	Claim      string    `json:"claim,omitempty"`
	ClaimUntil time.Time `json:"claim_until,omitzero"`
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
