// Package admin is the hub's administrative API over NATS: the messages the
// certfleet-hub CLI (with the admin credentials) exchanges with the running
// hub on "certfleet.admin.<verb>". Replies are the verb's reply type or a
// shared.ErrorReply.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/delegation"
	"github.com/certfleet/certfleet/shared"
)

// SubjectPrefix starts every admin subject.
const SubjectPrefix = "certfleet.admin."

// Verbs.
const (
	VerbAgentAdd     = "agent.add"
	VerbAgentRemove  = "agent.remove"
	VerbAgentList    = "agent.list"
	VerbAgentRevoke  = "agent.revoke-key"
	VerbDomainAdd    = "domain.add"
	VerbDomainRemove = "domain.remove"
	VerbDomainList   = "domain.list"
	VerbDomainCheck  = "domain.check"
	VerbStatus       = "status"
	VerbAudit        = "audit"
	VerbRenew        = "renew"
	VerbCertShow     = "cert.show"
)

// Subject returns the subject of verb.
func Subject(verb string) string { return SubjectPrefix + verb }

// AgentAddRequest registers an agent, or updates the allow list of an
// existing one (its credentials are then re-issued only with Reissue).
type AgentAddRequest struct {
	Name    string   `json:"name"`
	Allow   []string `json:"allow"`
	Reissue bool     `json:"reissue,omitempty"`
}

// AgentAddReply carries the enrollment bundle, shown once.
type AgentAddReply struct {
	Agent      hub.Agent          `json:"agent"`
	Enrollment *shared.Enrollment `json:"enrollment,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
}

// AgentRemoveRequest removes an agent after revoking every key the hub
// issued to it. Force removes an agent with no key on record.
type AgentRemoveRequest struct {
	Name  string `json:"name"`
	Force bool   `json:"force,omitempty"`
}

// RevokeKeyRequest revokes one NATS user key.
type RevokeKeyRequest struct {
	Key string `json:"key"`
}

// RevokeKeyReply says whose key it was, when the hub knows.
type RevokeKeyReply struct {
	Key      string   `json:"key"`
	Agent    string   `json:"agent,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// NameRequest names one agent or domain.
type NameRequest struct {
	Name string `json:"name"`
}

// DomainAddRequest registers a name (CNAME mode) or a zone (Zone mode).
type DomainAddRequest struct {
	Name string `json:"name"`
	Zone bool   `json:"zone,omitempty"`
}

// DomainAddReply says which record the operator must create.
type DomainAddReply struct {
	Domain hub.Domain `json:"domain"`
	// Record is the record to create at the parent, in zone-file form.
	Record string `json:"record"`
}

// DomainCheckRequest checks the given names, or all when empty.
type DomainCheckRequest struct {
	Names []string `json:"names,omitempty"`
}

// DomainCheckReply holds one finding per name.
type DomainCheckReply struct {
	Findings []delegation.Finding `json:"findings"`
}

// AgentListRequest asks for one page of the registered agents: those
// whose id matches Agent (a path.Match glob; empty for all), after the
// agent id After, at most Limit of them (0 for DefaultAgentListLimit).
type AgentListRequest struct {
	Agent string `json:"agent,omitempty"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// Page sizes of the agent list.
const (
	DefaultAgentListLimit = 500
	MaxAgentListLimit     = 1000
)

// AgentList lists agents. Next, when set, is the After of the next page.
type AgentList struct {
	Agents []hub.Agent `json:"agents"`
	// Warnings are things the admin must know about the action.
	Warnings []string `json:"warnings,omitempty"`
	// Damaged are stored entries that could not be read (on the first
	// page; at most MaxDamagedListed, DamagedTotal counts them all).
	Damaged      []hub.Damaged `json:"damaged,omitempty"`
	DamagedTotal int           `json:"damaged_total,omitempty"`
	Next         string        `json:"next,omitempty"`
}

// MaxDamagedListed bounds the damaged entries one reply lists, so a store
// full of garbage cannot push a reply over the payload limit.
const MaxDamagedListed = 100

// DomainList lists domains.
type DomainList struct {
	Domains []hub.Domain `json:"domains"`
	Zone    string       `json:"hub_zone"`
	// Damaged are stored entries that could not be read.
	Damaged []hub.Damaged `json:"damaged,omitempty"`
}

// StatusRequest asks for one page of the fleet view: agents whose id
// matches Agent (a path.Match glob; empty for all), after the agent id
// After, at most Limit of them (0 for DefaultStatusLimit). The filters
// select agents, each shown whole: Expiring, when set, keeps agents with a
// certificate that expires within it (or has expired); State keeps agents
// in any of the given states (see States).
type StatusRequest struct {
	Agent    string        `json:"agent,omitempty"`
	After    string        `json:"after,omitempty"`
	Limit    int           `json:"limit,omitempty"`
	Expiring time.Duration `json:"expiring,omitempty"`
	State    []string      `json:"state,omitempty"`
	// Unmanaged asks for the unmanaged certificates agents reported
	// (status[].report.unmanaged); without it they are left out and only
	// counted (UnmanagedCounts). With it a page may hold fewer agents
	// than Limit, so that it stays within UnmanagedPageBudget.
	Unmanaged bool `json:"unmanaged,omitempty"`
}

// UnmanagedPageBudget bounds the encoded unmanaged lists in one status
// page: with the rest of a page of DefaultStatusLimit agents the reply
// stays below NATS's default 1 MiB max payload.
const UnmanagedPageBudget = 512 << 10

// Page sizes of the fleet view. The hub also ends a page early when the
// next agent would take the reply near the server's max payload, so every
// reply fits whatever the agents hold.
const (
	DefaultStatusLimit = 200
	MaxStatusLimit     = 500
)

// Agent states a status request can filter by. An agent is in every
// state that applies to it.
const (
	// StateOK: online, and no certificate failed, expiring or expired.
	StateOK = "ok"
	// StateFailed: a certificate's last attempt failed on the agent, or
	// the hub's latest request for it failed or waits for a retry.
	StateFailed = "failed"
	// StatePending: a certificate not issued yet, or a request the hub has
	// queued or is ordering.
	StatePending = "pending"
	// StateExpiring: a certificate past its renewal time with under a
	// sixth of its lifetime left (its renewal is late).
	StateExpiring = "expiring"
	// StateExpired: a certificate past its expiry.
	StateExpired = "expired"
	// StateOnline and StateOffline: connected and heard from within
	// hub.OfflineAfter, or not (but heard from at some time).
	StateOnline  = "online"
	StateOffline = "offline"
	// StateNever: registered but never heard from.
	StateNever = "never"
)

// States lists every state a status request can filter by.
var States = []string{StateOK, StateFailed, StatePending, StateExpiring, StateExpired, StateOnline, StateOffline, StateNever}

// StatusReply is one page of the fleet view. Certificates come without
// their PEM chains, and requests only as the latest per certificate.
// Next, when set, is the After of the next page.
type StatusReply struct {
	Agents   []hub.Agent        `json:"agents"`
	Status   []hub.AgentStatus  `json:"status"`
	Certs    []hub.CertRecord   `json:"certs"`
	Requests []hub.RequestState `json:"requests"`
	Alerts   []Alert            `json:"alerts"`
	// Dropped counts agent messages this hub dropped unanswered since it
	// started, by reason (reply_subject, rate_limited, ...).
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// Hub is the id of the hub that answered (of the first page, when
	// several hubs share the fleet; each request's "hub" names the one
	// driving it).
	Hub string `json:"hub,omitempty"`
	// Hubs are the hubs running on the fleet's store (first page only).
	Hubs []HubInfo `json:"hubs,omitempty"`
	Now  time.Time `json:"now"`
	// Damaged are stored entries that could not be read; the rest is
	// listed without them. Only the first page lists them, at most
	// MaxDamagedListed; DamagedTotal counts them all.
	Damaged      []hub.Damaged `json:"damaged,omitempty"`
	DamagedTotal int           `json:"damaged_total,omitempty"`
	Next         string        `json:"next,omitempty"`
	// UnmanagedCounts is, per agent of the page that reported any, how
	// many unmanaged certificates it found (listed and omitted), whether
	// or not the request asked for the lists.
	UnmanagedCounts map[string]int `json:"unmanaged_counts,omitempty"`
}

// HubInfo is one running hub: it announced itself within the last 30 s.
type HubInfo struct {
	ID      string    `json:"id"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
	// Housekeeping: this hub renews agent credentials and publishes alerts.
	Housekeeping bool `json:"housekeeping,omitempty"`
}

// Alert is a condition an operator must look at.
type Alert struct {
	Kind     string    `json:"kind"` // expiring, silent, failing, never_seen, unmanaged_expiring
	Agent    string    `json:"agent"`
	CertName string    `json:"cert_name,omitempty"`
	Message  string    `json:"message"`
	Since    time.Time `json:"since,omitzero"`
}

// AuditRequest filters the audit log. Without After the reply holds the
// newest Limit matching events (0 for DefaultAuditLimit). With After, a
// position in the log ("0" for its start, else a reply's Next), it holds
// the first Limit matching events after that position, and Next for the
// following page: that is how a whole log is read, oldest first.
type AuditRequest struct {
	Agent string    `json:"agent,omitempty"`
	Since time.Time `json:"since,omitzero"`
	Limit int       `json:"limit,omitempty"`
	After string    `json:"after,omitempty"`
}

// Page sizes of the audit log.
const (
	DefaultAuditLimit = 1000
	MaxAuditLimit     = 10000
)

// AuditReply holds audit events, oldest first.
type AuditReply struct {
	Events []json.RawMessage `json:"events"`
	// Damaged are stored events that could not be read, by sequence.
	Damaged []hub.Damaged `json:"damaged,omitempty"`
	// Next, when paging with After, is the After of the following page;
	// empty at the end of the log.
	Next string `json:"next,omitempty"`
	// Omitted counts the oldest matching events left out of a reply
	// without After because they would not fit the server's max payload;
	// page with After to read them.
	Omitted int `json:"omitted,omitempty"`
}

// CertRequest asks for one certificate of an agent (its block name), with
// the PEM chain when Chain is set.
type CertRequest struct {
	Agent string `json:"agent"`
	Name  string `json:"name"`
	Chain bool   `json:"chain,omitempty"`
}

// CertReply is what the hub knows of one certificate: its record of the
// latest issued (Cert, nil when the hub issued none yet; its Chain only
// when asked for), the agent's last report of the block (Reported, nil
// when it reported none) and the latest request for it (Request).
type CertReply struct {
	Agent    string             `json:"agent"`
	Name     string             `json:"name"`
	Cert     *hub.CertRecord    `json:"cert,omitempty"`
	Reported *shared.CertStatus `json:"reported,omitempty"`
	Request  *hub.RequestState  `json:"request,omitempty"`
	Now      time.Time          `json:"now"`
}

// RenewRequest asks an agent to renew now.
type RenewRequest struct {
	Agent    string `json:"agent"`
	CertName string `json:"cert_name,omitempty"`
}

// Client calls the admin API.
type Client struct {
	NC      *nats.Conn
	Timeout time.Duration
}

// Call sends req on verb and decodes the reply into reply.
func (c *Client) Call(ctx context.Context, verb string, req, reply any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s: %w", verb, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := c.NC.RequestWithContext(ctx, Subject(verb), body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("%s: no hub is answering (is certfleet-hub run active?): %w", verb, err)
		}
		return fmt.Errorf("%s: %w", verb, err)
	}
	var head struct {
		Type  string        `json:"type"`
		Error *shared.Error `json:"error"`
	}
	if json.Unmarshal(msg.Data, &head) == nil && head.Type == shared.TypeErrorReply && head.Error != nil {
		return head.Error
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("decode %s reply: %w", verb, err)
	}
	return nil
}
