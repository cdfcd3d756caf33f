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
//	account.nk, account.jwt                 the CERTFLEET account, JetStream enabled
//	agent-signing.nk                        the account's scoped signing key for agents
//	hub.creds                               hub user: full access to CERTFLEET
//	admin.creds                             admin user: pub certfleet.admin.>, sub _INBOX.>
//	system.creds                            system-account user: pushes account updates
//
// Every agent is a user signed by the scoped signing key. Its JWT carries
// only its name (the agent id) and an expiry; the key's template
// (AgentTemplate) gives it publish on agent.<id>.up.>, subscribe on
// agent.<id>.down.> and _INBOX.<id>.>, and one reply per request it gets.
// So the NATS server itself keeps agents apart, and an agent must use
// nats.CustomInboxPrefix("_INBOX.<id>") for its requests.
//
// Revoke writes the revocation into account.jwt (so it survives restarts)
// and pushes the re-signed account JWT to the running server, which closes
// the agent's connections and refuses new ones.
//
// # External mode (LoadExternal)
//
// When the hub uses an existing operator-mode NATS deployment, its operator
// gives the hub the seed of a scoped signing key of an account (with
// AgentTemplate as its template) and a hub user's creds. IssueAgent and
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
