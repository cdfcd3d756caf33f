// Package shared is the certfleet wire protocol between agents and the hub:
// NATS subjects, versioned JSON message types, stable error codes, the
// enrollment bundle, and the name rules both sides apply.
//
// Every message is a JSON object with a "type" field naming its kind and
// version, e.g. "io.certfleet.v1.cert_request". A receiver rejects a message
// whose type it does not know with an [ErrorReply] of code
// [CodeUnsupportedVersion] or [CodeBadRequest]; it never guesses.
//
// # Identity
//
// An agent's identity is the token after "agent." in the subjects it may use.
// The NATS server enforces that an agent publishes only on
// "agent.<id>.up.>" and subscribes only to "agent.<id>.down.>" and
// "_INBOX.<id>.>", so the hub takes the agent id from the subject, never from
// a message body.
//
// # Messages
//
//	subject                     sender  kind            body            answer
//	agent.<id>.up.hello         agent   request         Hello           HelloReply | ErrorReply
//	agent.<id>.up.certreq       agent   JetStream pub   CertRequest     PubAck; later CertResult on down.result
//	agent.<id>.up.fetch         agent   request         FetchRequest    CertResult | ErrorReply (pending, not_found)
//	agent.<id>.up.status        agent   request         StatusReport    Ack | ErrorReply
//	agent.<id>.down.result      hub     publish         CertResult      none
//	agent.<id>.down.renew       hub     publish         RenewCommand    none
//	agent.<id>.down.creds       hub     request         CredsUpdate     Ack | ErrorReply
//
// Certificate requests are published into the hub's durable JetStream stream
// (see [StreamRequests]), de-duplicated by the Nats-Msg-Id header set to the
// request id, so a request survives a hub restart and is never ordered twice.
// Results are kept by the hub until the agent fetches them, so an agent that
// was offline when its certificate was issued gets it when it comes back.
//
// # Version history
//
//	ProtocolVersion 1 (certfleet 0.1): hello, cert_request, cert_result,
//	fetch, status, renew, creds; error codes as listed in errors.go.
//	Additive within v1: status certificates carry last_error_code,
//	next_attempt, attempts and blocked; the agent answers creds with an
//	Ack once the new JWT is stored.
package shared

// ProtocolVersion is the version of this protocol. Bump it when a change is
// not backward compatible and record it in the version history above.
const ProtocolVersion = 1
