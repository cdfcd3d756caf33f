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
// "agent.<id>.up.>" and subscribes only to "agent.<id>.down.>", so the hub
// takes the agent id from the subject, never from a message body.
//
// # Answers never travel on reply subjects
//
// NATS does not check the reply subject a client sets, and whoever answers
// it publishes there with its own rights. So no party of this protocol
// uses one: a request carries a correlation id in the [CorrelationHeader]
// and its answer is published on a subject derived from the authenticated
// one, agent.<id>.down.reply (hub to agent) or agent.<id>.up.ack (agent to
// hub), with the same header. The hub drops, and counts, every agent
// message that carries a reply subject.
//
// # Messages
//
//	subject                     sender  kind      body            answer (same correlation id)
//	agent.<id>.up.hello         agent   request   Hello           HelloReply | ErrorReply on down.reply
//	agent.<id>.up.certreq       agent   request   CertRequest     Ack | ErrorReply on down.reply; later CertResult on down.result
//	agent.<id>.up.fetch         agent   request   FetchRequest    CertResult | ErrorReply (pending, not_found) on down.reply
//	agent.<id>.up.status        agent   request   StatusReport    Ack | ErrorReply on down.reply
//	agent.<id>.down.result      hub     publish   CertResult      none
//	agent.<id>.down.renew       hub     publish   RenewCommand    none
//	agent.<id>.down.creds       hub     request   CredsUpdate     Ack | ErrorReply on up.ack
//
// The hub writes an accepted certificate request into its durable JetStream
// queue itself (see [StreamRequests]), de-duplicated by agent and request
// id, so a request survives a hub restart and is never ordered twice; its
// Ack means "queued". Results are kept by the hub until the agent fetches
// them, so an agent that was offline when its certificate was issued gets
// it when it comes back.
//
// # Version history
//
//	ProtocolVersion 1 (certfleet 0.1): hello, cert_request, cert_result,
//	fetch, status, renew, creds; error codes as listed in errors.go.
//	Additive within v1: status certificates carry last_error_code,
//	next_attempt, attempts and blocked; the agent answers creds with an
//	Ack once the new JWT is stored.
//
//	ProtocolVersion 2 (certfleet 0.2, the trust boundary): message bodies
//	and types unchanged; transport changed. Agents live in their own NATS
//	account; no NATS reply subjects: answers go to down.reply / up.ack with
//	the Certfleet-Corr header; cert_request is a request answered with Ack
//	(queued) instead of a JetStream publish; error code throttled added.
//	A v1 agent (request/reply on _INBOX.<id>) gets no answers from a v2
//	hub: upgrade agents after the hub.
//	Additive within v2: status carries transport (the path the agent
//	reaches the hub by); status carries unmanaged (certificates found in
//	the agent's [inventory] paths that it did not issue, soonest expiry
//	first, at most MaxUnmanaged) and unmanaged_omitted. A hub that does
//	not know a field ignores it and an agent that does not send one is
//	read as having none, so hub and agents upgrade in either order; a
//	report listing more than MaxUnmanaged is refused (bad_request).
//	hello_reply carries reconnect_spread_ms: the window, sized by the hub
//	to the fleet, over which an agent spreads its first reconnect after
//	losing the hub; an agent that does not know it keeps its own back-off.
package shared

// ProtocolVersion is the version of this protocol. Bump it when a change is
// not backward compatible and record it in the version history above.
const ProtocolVersion = 2
