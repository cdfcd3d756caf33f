package shared

import "time"

// Message type strings. The version is part of the type: a v2 message is a
// different type, and a receiver that does not know it says so.
const (
	TypeHello        = "io.certfleet.v1.hello"
	TypeHelloReply   = "io.certfleet.v1.hello_reply"
	TypeCertRequest  = "io.certfleet.v1.cert_request"
	TypeCertResult   = "io.certfleet.v1.cert_result"
	TypeFetchRequest = "io.certfleet.v1.fetch"
	TypeStatusReport = "io.certfleet.v1.status"
	TypeAck          = "io.certfleet.v1.ack"
	TypeRenewCommand = "io.certfleet.v1.renew"
	TypeCredsUpdate  = "io.certfleet.v1.creds"
	TypeErrorReply   = "io.certfleet.v1.error"
)

// Message is implemented by every protocol message.
type Message interface {
	// MessageType returns the type string the message must carry.
	MessageType() string
	// Validate checks the fields a receiver relies on.
	Validate() error
}

// Hello is the first request an agent sends after connecting.
type Hello struct {
	Type         string `json:"type"`
	AgentVersion string `json:"agent_version"`
	Protocol     int    `json:"protocol"`
	Hostname     string `json:"hostname,omitempty"`
	OS           string `json:"os,omitempty"`
	Arch         string `json:"arch,omitempty"`
}

// HelloReply answers Hello.
type HelloReply struct {
	Type       string    `json:"type"`
	HubVersion string    `json:"hub_version"`
	Protocol   int       `json:"protocol"`
	ServerTime time.Time `json:"server_time"`
	// CredsExpire is when the agent's current NATS credentials expire, if they do.
	CredsExpire *time.Time `json:"creds_expire,omitempty"`
	// ReconnectSpreadMS: after losing the hub, the agent makes its first
	// reconnect attempt at a random time within this many milliseconds,
	// so a fleet the hub lost at once (a hub restart) comes back at a rate
	// the hub can take, not in the same second. The hub sizes it to the
	// fleet; zero or absent: the agent's own back-off alone.
	ReconnectSpreadMS int64 `json:"reconnect_spread_ms,omitempty"`
}

// Request reasons.
const (
	ReasonNew          = "new"
	ReasonRenew        = "renew"
	ReasonNamesChanged = "names_changed"
	ReasonManual       = "manual"
)

// CertRequest asks the hub to obtain a certificate for a CSR. The hub
// answers Ack once it has queued it (de-duplicated by RequestID).
type CertRequest struct {
	Type string `json:"type"`
	// RequestID is unique per request (agent-chosen, see NewRequestID).
	RequestID string `json:"request_id"`
	// CertName is the name of the agent's certificate block.
	CertName string `json:"cert_name"`
	// CSR is a PEM "CERTIFICATE REQUEST".
	CSR string `json:"csr"`
	// Profile is an optional ACME profile name.
	Profile string `json:"profile,omitempty"`
	// Reason is one of the Reason* constants.
	Reason string `json:"reason,omitempty"`
	// Replaces is the serial (hex) of the certificate this one replaces, if any.
	Replaces string `json:"replaces,omitempty"`
	// Created is when the agent made the request.
	Created time.Time `json:"created"`
}

// Result states.
const (
	StatusIssued = "issued"
	StatusFailed = "failed"
)

// CertResult is the outcome of a CertRequest.
type CertResult struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	CertName  string `json:"cert_name"`
	Status    string `json:"status"`
	// Chain is PEM: the leaf first, then intermediates. Set when issued.
	Chain     string    `json:"chain,omitempty"`
	Serial    string    `json:"serial,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	// RenewAt is when the hub advises the agent to renew (ARI window or a
	// third of the lifetime before expiry, with jitter).
	RenewAt time.Time `json:"renew_at,omitzero"`
	// Error is set when Status is failed.
	Error *Error `json:"error,omitempty"`
	// RetryAfter, when set on a failure, is the earliest time a new
	// request for the same certificate can be worth making.
	RetryAfter time.Time `json:"retry_after,omitzero"`
	Finished   time.Time `json:"finished"`
}

// FetchRequest asks for the result of RequestID.
type FetchRequest struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
}

// CertStatus is what an agent reports about one certificate block.
type CertStatus struct {
	Name        string    `json:"name"`
	Names       []string  `json:"names"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	RenewAt     time.Time `json:"renew_at,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastResult is "ok", "failed", "pending" or "" before any attempt.
	LastResult string `json:"last_result,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	// LastErrorCode is the stable code of LastError, when the hub gave one.
	LastErrorCode Code `json:"last_error_code,omitempty"`
	// NextAttempt is when the agent will try again after a failure.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Attempts counts failed attempts since the last success.
	Attempts int `json:"attempts,omitempty"`
	// Blocked is set when a permanent error stops retries until the
	// configuration changes or a renewal is forced.
	Blocked   bool      `json:"blocked,omitempty"`
	Pending   string    `json:"pending_request,omitempty"`
	Installed time.Time `json:"installed,omitzero"`
	// Reload is the last reload's outcome; absent before any or when the
	// block has no reload configured. Optional: older agents omit it.
	Reload *ReloadResult `json:"reload,omitempty"`
}

// StatusReport is an agent's view of everything it holds.
type StatusReport struct {
	Type         string       `json:"type"`
	AgentVersion string       `json:"agent_version"`
	Hostname     string       `json:"hostname,omitempty"`
	Certificates []CertStatus `json:"certificates"`
	Sent         time.Time    `json:"sent"`
	// Transport is the path the agent reaches the hub by, e.g.
	// "wss://hub.example.org:443 via proxy http://proxy:3128" (optional;
	// agents before 0.3 leave it out).
	Transport string `json:"transport,omitempty"`
	// Unmanaged lists certificates the agent found in its configured
	// inventory paths that it did not issue, soonest expiry first, at most
	// MaxUnmanaged (optional: older agents, and agents without [inventory],
	// leave it out).
	Unmanaged []UnmanagedCert `json:"unmanaged,omitempty"`
	// UnmanagedOmitted counts unmanaged certificates found but not listed:
	// past MaxUnmanaged or past what fits in one message.
	UnmanagedOmitted int `json:"unmanaged_omitted,omitempty"`
}

// UnmanagedCert describes a certificate found on the agent's host that
// certfleet does not manage: the leaf of one file (the first certificate
// that is not a CA's), never a key.
type UnmanagedCert struct {
	// Path is the first file it was found in (walk order).
	Path string `json:"path"`
	// Duplicates counts other files in the inventory paths holding the
	// same certificate (a cert.pem and its fullchain.pem).
	Duplicates int `json:"duplicates,omitempty"`
	// Subject and Issuer are distinguished names (RFC 2253 form).
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// SANs are the DNS names and IP addresses, at most MaxUnmanagedSANs;
	// SANsOmitted counts the rest.
	SANs        []string  `json:"sans,omitempty"`
	SANsOmitted int       `json:"sans_omitted,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after"`
	// SHA256 is the hex SHA-256 fingerprint of the certificate's DER.
	SHA256 string `json:"sha256"`
}

// Ack answers a request that needs no data back.
type Ack struct {
	Type string `json:"type"`
}

// RenewCommand tells an agent to renew now.
type RenewCommand struct {
	Type string `json:"type"`
	// CertName is the block to renew; empty means all.
	CertName string `json:"cert_name,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// CredsUpdate carries fresh NATS credentials for the agent.
type CredsUpdate struct {
	Type string `json:"type"`
	// JWT is the new user JWT for the agent's existing nkey.
	JWT     string    `json:"jwt"`
	Expires time.Time `json:"expires,omitzero"`
}

// ErrorReply is the answer to a request that failed.
type ErrorReply struct {
	Type  string `json:"type"`
	Error Error  `json:"error"`
}

func (*Hello) MessageType() string        { return TypeHello }
func (*HelloReply) MessageType() string   { return TypeHelloReply }
func (*CertRequest) MessageType() string  { return TypeCertRequest }
func (*CertResult) MessageType() string   { return TypeCertResult }
func (*FetchRequest) MessageType() string { return TypeFetchRequest }
func (*StatusReport) MessageType() string { return TypeStatusReport }
func (*Ack) MessageType() string          { return TypeAck }
func (*RenewCommand) MessageType() string { return TypeRenewCommand }
func (*CredsUpdate) MessageType() string  { return TypeCredsUpdate }
func (*ErrorReply) MessageType() string   { return TypeErrorReply }
