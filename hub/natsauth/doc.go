// Package natsauth holds the hub's NATS security material: decentralized
// (operator-mode) JWT authentication built with nats-io/jwt and nkeys, and a
// private CA with a server certificate for the NATS client port.
//
// # Embedded mode (Init, Load)
//
// Init creates, in one 0700 directory:
//
//	operator.nk, operator.jwt               the operator (self-signed)
//	system-account.nk, system-account.jwt   the system account
//	account.nk, account.jwt                 CERTFLEET, the hub's account: JetStream
//	agents-account.nk, agents-account.jwt   CERTFLEET_AGENTS, the agents' account
//	agents-signing.nk                       its scoped signing key for agents
//	hub.creds                               hub user: full access to CERTFLEET
//	admin.creds                             admin user: pub certfleet.admin.>, sub _INBOX.>
//	system.creds                            system-account user: pushes account updates
//
// # The trust boundary
//
// NATS checks the subject a client publishes on, but not the reply subject
// it sets, and whoever answers (m.Respond, or JetStream's PubAck) publishes
// there with its own rights. So agents never share an account with the
// hub's state:
//
//   - Agents live in CERTFLEET_AGENTS, which has no JetStream and nothing of
//     its own. It imports exactly two things from CERTFLEET: the service
//     "agent.*.up.>" (agents to hub) and the stream "agent.*.down.>" (hub to
//     agents). Both exports need an activation token signed by CERTFLEET's
//     key, so no other account of the operator can import them. $KV.*,
//     $JS.*, $SYS.*, certfleet.* and every inbox of CERTFLEET do not exist
//     from an agent's point of view, whatever reply subject it sets; a reply
//     through the service import reaches the hub only as "_R_.…", and a
//     response to it could only land back in CERTFLEET_AGENTS.
//   - Every agent is a user signed by the agents account's scoped signing
//     key. Its JWT carries only its name (the agent id) and an expiry; the
//     key's template (AgentTemplate) lets it publish on agent.<id>.up.> and
//     subscribe to agent.<id>.down.>, nothing else, no responses.
//   - The hub never answers on a reply subject an agent chose: answers go to
//     agent.<id>.down.reply with a correlation header (see package shared).
//
// Revoke writes the revocation into the agents' account JWT (so it survives
// restarts) and pushes the re-signed JWT to the running server, which
// closes the agent's connections and refuses new ones.
//
// # Upgrading a layout-1 directory
//
// Before certfleet had the agents' account, agents were signed by
// agent-signing.nk inside CERTFLEET. Init run on such a directory adds the
// agents' account and keeps that key in CERTFLEET with LegacyAgentTemplate:
// an upgraded agent holding old credentials may say hello and take new
// credentials for CERTFLEET_AGENTS, nothing else. Delete agent-signing.nk
// and run Init again once every agent has moved.
//
// # External mode (LoadExternal)
//
// When the hub uses an existing operator-mode NATS deployment, its operator
// gives the hub the seed of a scoped signing key of the agents' account
// (with AgentTemplate as its template) and a hub user's creds in another
// account that exports the two agent subjects to it (`certfleet-hub
// nats-setup` writes such a deployment). IssueAgent and
// RenewAgentJWT work as in embedded mode.
//
// Limitation: re-signing the account JWT needs the operator's key, which an
// external deployment does not hand over, so Revoke cannot cut a connected
// agent off. There, revocation rests on short-lived agent JWTs: the hub
// issues them with a short ttl, renews them for agents it keeps, and stops
// renewing a revoked key (Revoke returns ErrNoLiveRevocation to say so, and
// RenewAgentJWT refuses the key from then on in this process). A revoked
// agent keeps access until its current JWT expires; an operator who needs
// it gone at once revokes the user key with nsc and pushes the account.
//
// # TLS
//
// InitTLS and LoadTLS keep a private ECDSA CA and a server certificate for
// the client port. The CA is pinned by agents through their enrollment
// bundle, so the hub needs no public certificate for NATS.
package natsauth
