package shared

import "strings"

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
)

// Wildcard subjects the hub subscribes to.
const (
	SubjectAllHello   = "agent.*.up.hello"
	SubjectAllCertReq = "agent.*.up.certreq"
	SubjectAllFetch   = "agent.*.up.fetch"
	SubjectAllStatus  = "agent.*.up.status"
)

// JetStream names the hub creates.
const (
	// StreamRequests captures every agent's certificate requests
	// (SubjectAllCertReq) as a durable work queue.
	StreamRequests = "CERTFLEET_REQUESTS"
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

// InboxPrefix is the reply inbox prefix agent id must use
// (nats.CustomInboxPrefix); its permissions allow no other.
func InboxPrefix(id string) string { return "_INBOX." + id }

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
