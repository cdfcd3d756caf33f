package shared

import (
	"strings"
)

// Subject tokens. Every agent subject is "agent.<id>.<dir>.<verb>".
const (
	SubjectPrefix = "agent"
	dirUp         = "up"
	dirDown       = "down"

	VerbHello   = "hello"
	VerbCertReq = "certreq"
	VerbFetch   = "fetch"
	VerbStatus  = "status"
	VerbResult  = "result"
	VerbRenew   = "renew"
	VerbCreds   = "creds"
	// VerbReply (down) carries the hub's answer to an agent's request; the
	// CorrelationHeader names the request it answers.
	VerbReply = "reply"
	// VerbAck (up) carries the agent's answer to a hub request (creds).
	VerbAck = "ack"
)

// CorrelationHeader carries the id that pairs an answer with its request,
// in both directions. Answers never travel on a NATS reply subject: a reply
// subject is chosen by the sender and not checked by the server, so the hub
// answers on agent.<id>.down.reply, derived from the authenticated subject.
const CorrelationHeader = "Certfleet-Corr"

// Wildcard subjects.
const (
	// SubjectAllUp is everything agents send; the hub's account exports it
	// to the agents' account as a service.
	SubjectAllUp = "agent.*.up.>"
	// SubjectAllDown is everything the hub sends agents; exported as a
	// stream.
	SubjectAllDown    = "agent.*.down.>"
	SubjectAllHello   = "agent.*.up.hello"
	SubjectAllCertReq = "agent.*.up.certreq"
	SubjectAllFetch   = "agent.*.up.fetch"
	SubjectAllStatus  = "agent.*.up.status"
	SubjectAllAck     = "agent.*.up.ack"
)

// JetStream names the hub creates. They live in the hub's account, which no
// agent can reach.
const (
	// StreamRequests is the durable work queue of accepted certificate
	// requests. The hub itself writes it, one subject per agent
	// (QueueSubject), after checking and rate-limiting what the agent sent.
	StreamRequests = "CERTFLEET_REQUESTS"
	// SubjectQueue is the requests stream's subject prefix.
	SubjectQueue = "certfleet.queue"
	// StreamAudit holds the audit log.
	StreamAudit = "CERTFLEET_AUDIT"
	// SubjectAudit is the audit stream's subject prefix: "certfleet.audit.<kind>".
	SubjectAudit = "certfleet.audit"
	// SubjectAlerts is where the hub publishes alarms: "certfleet.alert.<kind>".
	SubjectAlerts = "certfleet.alert"
)

// Up returns the subject agent id publishes verb on.
func Up(id, verb string) string { return SubjectPrefix + "." + id + "." + dirUp + "." + verb }

// Down returns the subject the hub publishes verb on for agent id.
func Down(id, verb string) string { return SubjectPrefix + "." + id + "." + dirDown + "." + verb }

// QueueSubject is the requests stream subject of agent id's accepted
// requests.
func QueueSubject(id string) string { return SubjectQueue + "." + id }

// ParseQueueSubject returns the agent id of a requests stream subject. It
// also accepts the layout-1 subject "agent.<id>.up.certreq", which a
// stream written by an older hub may still hold.
func ParseQueueSubject(subject string) (string, bool) {
	if id, ok := strings.CutPrefix(subject, SubjectQueue+"."); ok {
		return id, ValidateAgentID(id) == nil
	}
	id, dir, verb, ok := ParseSubject(subject)
	return id, ok && dir == dirUp && verb == VerbCertReq
}

// ParseSubject splits "agent.<id>.<dir>.<verb>" and validates the id.
// ok is false for any other shape.
func ParseSubject(subject string) (id, dir, verb string, ok bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != SubjectPrefix {
		return "", "", "", false
	}
	if parts[2] != dirUp && parts[2] != dirDown {
		return "", "", "", false
	}
	if ValidateAgentID(parts[1]) != nil {
		return "", "", "", false
	}
	return parts[1], parts[2], parts[3], true
}

// maxCorrelation bounds a correlation id.
const maxCorrelation = 64

// ValidateCorrelation checks a correlation id: 1-64 of [A-Za-z0-9_-].
func ValidateCorrelation(c string) error {
	if c == "" || len(c) > maxCorrelation {
		return Errorf(CodeBadRequest, "correlation id: want 1-%d characters, got %d", maxCorrelation, len(c))
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return Errorf(CodeBadRequest, "correlation id: character %q not allowed", b)
		}
	}
	return nil
}
