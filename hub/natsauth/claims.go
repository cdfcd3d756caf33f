package natsauth

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/certfleet/certfleet/shared"
)

// Names given to the entities Init creates.
const (
	OperatorName      = "certfleet"
	SystemAccountName = "SYS"
	AccountName       = "CERTFLEET"
	// AgentRole is the role of the account's scoped signing key for agents.
	AgentRole = "certfleet-agent"
)

// MaxAgentTTL bounds the lifetime of an agent JWT. It also bounds how long
// a revocation must stay in the account JWT: once every JWT a revocation
// covers has expired, the entry is dropped, which keeps the account JWT
// small however many agents are removed over the years.
const MaxAgentTTL = 366 * 24 * time.Hour

// agentMaxPayload bounds one agent message, headers included: the protocol's
// limit plus room for headers such as Nats-Msg-Id.
const agentMaxPayload = shared.MaxMessageSize + 64<<10

// agentMaxSubs bounds an agent's subscriptions: it needs a handful (its
// down subjects and one response inbox), so a runaway client is cut short.
const agentMaxSubs = 1000

// AgentTemplate returns the permissions every agent gets from the scoped
// signing key. {{name()}} is the user JWT's name, the agent id, which
// shared.ValidateAgentID keeps to a single subject token.
func AgentTemplate() jwt.UserPermissionLimits {
	var t jwt.UserPermissionLimits
	t.Pub.Allow.Add(shared.SubjectPrefix + ".{{name()}}.up.>")
	t.Sub.Allow.Add(shared.SubjectPrefix+".{{name()}}.down.>", "_INBOX.{{name()}}.>")
	// One reply to a request the hub sends down, within the server's
	// default response window.
	t.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
	t.NatsLimits = jwt.NatsLimits{Subs: agentMaxSubs, Data: jwt.NoLimit, Payload: agentMaxPayload}
	t.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket)
	return t
}

// hubPermissions is full access within the account.
func hubPermissions() jwt.UserPermissionLimits {
	var p jwt.UserPermissionLimits
	p.NatsLimits = jwt.NatsLimits{Subs: jwt.NoLimit, Data: jwt.NoLimit, Payload: jwt.NoLimit}
	return p
}

// adminPermissions lets the admin CLI send requests to the hub and get the
// replies; it cannot reach agents or JetStream directly.
func adminPermissions() jwt.UserPermissionLimits {
	p := hubPermissions()
	p.Pub.Allow.Add("certfleet.admin.>")
	p.Sub.Allow.Add("_INBOX.>")
	return p
}

func operatorClaims(opPub, sysPub string) *jwt.OperatorClaims {
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = OperatorName
	oc.SystemAccount = sysPub
	return oc
}

func systemAccountClaims(sysPub string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(sysPub)
	ac.Name = SystemAccountName
	return ac
}

func certfleetAccountClaims(accPub, signerPub string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = AccountName
	scope := jwt.NewUserScope()
	scope.Key = signerPub
	scope.Role = AgentRole
	scope.Description = "certfleet agents: each may use only its own subjects"
	scope.Template = AgentTemplate()
	ac.SigningKeys.AddScopedSigner(scope)
	// The hub keeps all its state in JetStream.
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit,
		DiskStorage:   jwt.NoLimit,
		Streams:       jwt.NoLimit,
		Consumer:      jwt.NoLimit,
		MaxAckPending: jwt.NoLimit,
	}
	ac.Limits.DisallowBearer = true
	return ac
}

// sameAccount reports whether two account JWTs grant the same thing; the
// issue time and JWT id are ignored.
func sameAccount(a, b *jwt.AccountClaims) (bool, error) {
	ja, err := json.Marshal(a.Account)
	if err != nil {
		return false, fmt.Errorf("compare account claims: %w", err)
	}
	jb, err := json.Marshal(b.Account)
	if err != nil {
		return false, fmt.Errorf("compare account claims: %w", err)
	}
	return a.Name == b.Name && a.Subject == b.Subject && a.Issuer == b.Issuer && string(ja) == string(jb), nil
}

// samePermissions compares permissions by their JSON form, the form they
// have in a JWT, so nil and empty lists compare equal.
func samePermissions(a, b jwt.UserPermissionLimits) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("compare permissions: %w", err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, fmt.Errorf("compare permissions: %w", err)
	}
	return string(ja) == string(jb), nil
}
