package natsauth

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/shared"
)

// Names given to the entities Init creates.
const (
	OperatorName      = "certfleet"
	SystemAccountName = "SYS"
	// AccountName is the hub's account: JetStream (all the hub's state),
	// the hub and admin users. No agent lives in it.
	AccountName = "CERTFLEET"
	// AgentsAccountName is the agents' account: no JetStream, nothing of its
	// own; it reaches the hub only through the imports below.
	AgentsAccountName = "CERTFLEET_AGENTS"
	// AgentRole is the role of the agents account's scoped signing key.
	AgentRole = "certfleet-agent"
	// LegacyAgentRole is the role of the scoped signing key that signed
	// agents inside the hub's account before the agents had their own
	// (layout 1). Kept only while such agents may still connect, with a
	// template that lets them do nothing but take new credentials.
	LegacyAgentRole = "certfleet-agent-legacy"
)

// The subjects the hub's account exports to the agents' account, and
// nothing else: agents publish up to the hub through a service import (the
// hub sees only "_R_." reply subjects it never answers) and receive from
// the hub through a stream import. Both exports need an activation token,
// so no other account of an operator can import them.
const (
	exportUp   = shared.SubjectAllUp
	exportDown = shared.SubjectAllDown
)

// upResponseThreshold bounds how long the server tracks a reply subject
// that an agent set on an up message. The hub never answers one, so the
// tracking only costs memory; keep it short.
const upResponseThreshold = time.Second

// MaxAgentTTL bounds the lifetime of an agent JWT. It also bounds how long
// a revocation must stay in the account JWT: once every JWT a revocation
// covers has expired, the entry is dropped, which keeps the account JWT
// small however many agents are removed over the years.
const MaxAgentTTL = 366 * 24 * time.Hour

// agentMaxPayload bounds one agent message, headers included: the protocol's
// limit plus room for headers.
const agentMaxPayload = shared.MaxMessageSize + 8<<10

// agentMaxSubs bounds an agent's subscriptions: it needs one (its down
// subjects), so a runaway client is cut short.
const agentMaxSubs = 16

// AgentTemplate returns the permissions every agent gets from the scoped
// signing key. {{name()}} is the user JWT's name, the agent id, which
// shared.ValidateAgentID keeps to a single subject token. No response
// permission and no inbox: the hub answers on agent.<id>.down.reply, a
// subject derived from the authenticated one, never on a reply subject.
func AgentTemplate() jwt.UserPermissionLimits {
	var t jwt.UserPermissionLimits
	t.Pub.Allow.Add(shared.SubjectPrefix + ".{{name()}}.up.>")
	t.Sub.Allow.Add(shared.SubjectPrefix + ".{{name()}}.down.>")
	t.NatsLimits = jwt.NatsLimits{Subs: agentMaxSubs, Data: jwt.NoLimit, Payload: agentMaxPayload}
	t.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket)
	return t
}

// LegacyAgentTemplate is what agents enrolled under layout 1 (inside the
// hub's account) keep: hello and ack only, so an upgraded agent can say
// hello, take credentials for the agents' account and acknowledge them.
// Nothing it publishes is captured by JetStream and the hub answers none
// of its reply subjects.
func LegacyAgentTemplate() jwt.UserPermissionLimits {
	var t jwt.UserPermissionLimits
	t.Pub.Allow.Add(shared.Up("{{name()}}", shared.VerbHello), shared.Up("{{name()}}", shared.VerbAck))
	t.Sub.Allow.Add(shared.SubjectPrefix + ".{{name()}}.down.>")
	t.NatsLimits = jwt.NatsLimits{Subs: agentMaxSubs, Data: jwt.NoLimit, Payload: agentMaxPayload}
	t.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket)
	return t
}

// hubPermissions is full access within the hub's account.
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
	p.Sub.Allow.Add(AdminInbox + ">")
	return p
}

// AdminInbox is the prefix of the reply subjects admin requests may carry;
// the hub answers no other.
const AdminInbox = "_INBOX."

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

// hubAccountClaims is the hub's account: JetStream, the two exports for the
// agents, and, while layout-1 agents may remain, the legacy signing key.
func hubAccountClaims(accPub, legacySignerPub string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = AccountName
	if legacySignerPub != "" {
		scope := jwt.NewUserScope()
		scope.Key = legacySignerPub
		scope.Role = LegacyAgentRole
		scope.Description = "agents enrolled before certfleet had an agents account: hello and new credentials only"
		scope.Template = LegacyAgentTemplate()
		ac.SigningKeys.AddScopedSigner(scope)
	}
	ac.Exports.Add(&jwt.Export{
		Name: "agent requests", Subject: exportUp, Type: jwt.Service, TokenReq: true,
		ResponseType: jwt.ResponseTypeSingleton, ResponseThreshold: upResponseThreshold,
	}, &jwt.Export{
		Name: "messages to agents", Subject: exportDown, Type: jwt.Stream, TokenReq: true,
	})
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

// agentsAccountClaims is the agents' account: no JetStream (zero limits),
// the scoped signing key for agents and the imports of the hub's exports,
// authorised by activation tokens the hub's account signed.
func agentsAccountClaims(agentsPub, signerPub, hubPub, upToken, downToken string) *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(agentsPub)
	ac.Name = AgentsAccountName
	scope := jwt.NewUserScope()
	scope.Key = signerPub
	scope.Role = AgentRole
	scope.Description = "certfleet agents: each may use only its own subjects"
	scope.Template = AgentTemplate()
	ac.SigningKeys.AddScopedSigner(scope)
	ac.Imports.Add(&jwt.Import{
		Name: "agent requests", Subject: exportUp, Account: hubPub, Token: upToken, Type: jwt.Service,
	}, &jwt.Import{
		Name: "messages to agents", Subject: exportDown, Account: hubPub, Token: downToken, Type: jwt.Stream,
	})
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{}
	ac.Limits.Payload = agentMaxPayload
	ac.Limits.DisallowBearer = true
	return ac
}

// activationToken signs, with the hub account's key, the token that lets
// account importer import subject (of kind typ). A token still valid in
// have (the agents account JWT as it stands) is reused, so running Init
// again does not re-sign an unchanged account.
func activationToken(hubKey nkeys.KeyPair, have *jwt.AccountClaims, importer, subject string, typ jwt.ExportType) (string, error) {
	if have != nil {
		for _, im := range have.Imports {
			if string(im.Subject) != subject || im.Type != typ || im.Token == "" {
				continue
			}
			ac, err := jwt.DecodeActivationClaims(im.Token)
			if err == nil && ac.Issuer == pub(hubKey) && ac.Subject == importer &&
				string(ac.ImportSubject) == subject && ac.ImportType == typ && ac.Expires == 0 {
				return im.Token, nil
			}
		}
	}
	ac := jwt.NewActivationClaims(importer)
	ac.Name = subject
	ac.ImportSubject = jwt.Subject(subject)
	ac.ImportType = typ
	tok, err := ac.Encode(hubKey)
	if err != nil {
		return "", fmt.Errorf("sign activation for %s: %w", subject, err)
	}
	return tok, nil
}

// sameAccount reports whether two account JWTs grant the same thing; the
// issue time and JWT id are ignored, and so are activation tokens, which
// differ at each signing (tokenOK checks them).
func sameAccount(a, b *jwt.AccountClaims) (bool, error) {
	strip := func(c *jwt.AccountClaims) ([]byte, error) {
		acc := c.Account
		acc.Imports = nil
		for _, im := range c.Imports {
			cp := *im
			cp.Token = ""
			acc.Imports = append(acc.Imports, &cp)
		}
		return json.Marshal(acc)
	}
	ja, err := strip(a)
	if err != nil {
		return false, fmt.Errorf("compare account claims: %w", err)
	}
	jb, err := strip(b)
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
