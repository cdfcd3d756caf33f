package web

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/metrics"
)

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"ago":   func(t time.Time) string { return human(time.Since(t)) + " ago" },
	"until": func(t time.Time) string { return human(time.Until(t)) },
	"join":  strings.Join,
	"add":   func(a, b int) int { return a + b },
}

// human renders a duration in days, hours or minutes.
func human(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	}
	if neg {
		return "-" + s
	}
	return s
}

// certRow is one certificate an agent reported.
type certRow struct {
	Agent, Name string
	Names       []string
	NotAfter    time.Time
	RenewAt     time.Time
	Installed   time.Time
	LastAttempt time.Time
	State       string
	LastResult  string
	LastError   string
	Attempts    int
	Pending     string
	// Request is the hub's latest request for the certificate while it
	// is not issued; nil otherwise.
	Request *hubRequest
}

// hubRequest is the hub's side of a certificate's request, as
// `certfleet-hub status` shows it: "hub: waiting (next T): why".
type hubRequest struct {
	State string
	// Hub drives the request when several hubs share the fleet.
	Hub string
	// Attempt is shown once there is a retry to count (0: not shown).
	Attempt int
	// NextTry is when the hub next tries or releases it, NextIn how far
	// ahead that is ("" when it is due).
	NextTry time.Time
	NextIn  string
	// Reason is why a waiting request waits (the CA budget), else the
	// last error.
	Reason string
}

// latestRequests maps agent/cert to the hub's newest request for it that
// is not issued.
func latestRequests(r admin.StatusReply) map[string]*hubRequest {
	newest := map[string]hub.RequestState{}
	for _, q := range r.Requests {
		k := q.AgentID + "/" + q.CertName
		if old, ok := newest[k]; !ok || old.Updated.Before(q.Updated) {
			newest[k] = q
		}
	}
	out := map[string]*hubRequest{}
	for k, q := range newest {
		if q.State == hub.RequestIssued {
			continue
		}
		hr := &hubRequest{State: q.State, Hub: q.Hub, NextTry: q.NextTry, Reason: q.LastError}
		// As status counts them: the first attempt is not worth a number
		// until there is a next one.
		if q.Attempts > 1 || (q.Attempts > 0 && !q.NextTry.IsZero()) {
			hr.Attempt = q.Attempts
		}
		if d := q.NextTry.Sub(r.Now); !q.NextTry.IsZero() && d >= time.Minute {
			hr.NextIn = human(d)
		}
		if q.State == hub.RequestWaiting && q.WaitReason != "" {
			// Waiting for the CA's budget: why, not the last error.
			hr.Reason = q.WaitReason
		}
		out[k] = hr
	}
	return out
}

var stateRank = func() map[string]int {
	m := map[string]int{}
	for i, s := range metrics.States {
		m[s] = i
	}
	return m
}()

func certRows(r admin.StatusReply, agent string) []certRow {
	var out []certRow
	reqs := latestRequests(r)
	for _, st := range r.Status {
		if agent != "" && st.AgentID != agent {
			continue
		}
		for _, c := range st.Report.Certificates {
			state := "pending"
			if !c.NotAfter.IsZero() {
				state = metrics.Cert{NotBefore: c.NotBefore, NotAfter: c.NotAfter, RenewAt: c.RenewAt, LastResult: c.LastResult}.State(r.Now)
			} else if c.LastResult == "failed" {
				state = metrics.StateFailing
			}
			out = append(out, certRow{Agent: st.AgentID, Name: c.Name, Names: c.Names, NotAfter: c.NotAfter, RenewAt: c.RenewAt,
				Installed: c.Installed, LastAttempt: c.LastAttempt, State: state, LastResult: c.LastResult, LastError: c.LastError,
				Attempts: c.Attempts, Pending: c.Pending, Request: reqs[st.AgentID+"/"+c.Name]})
		}
	}
	// Worst first, then soonest expiry.
	slices.SortStableFunc(out, func(a, b certRow) int {
		ra, oka := stateRank[a.State]
		rb, okb := stateRank[b.State]
		if !oka {
			ra = 1 // pending without a certificate: right after expired
		}
		if !okb {
			rb = 1
		}
		return cmp.Or(cmp.Compare(ra, rb), a.NotAfter.Compare(b.NotAfter), cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// agentRow is one agent in the list.
type agentRow struct {
	ID       string
	Online   bool
	Seen     bool
	LastSeen time.Time
	Version  string
	Hostname string
	Allow    []string
	Certs    int
}

func agentRows(r admin.StatusReply, silent time.Duration) []agentRow {
	st := map[string]hub.AgentStatus{}
	for _, s := range r.Status {
		st[s.AgentID] = s
	}
	out := make([]agentRow, 0, len(r.Agents))
	for _, a := range r.Agents {
		row := agentRow{ID: a.ID, Allow: a.Allow}
		if s, ok := st[a.ID]; ok {
			row.Seen, row.LastSeen = true, s.LastSeen
			row.Online = r.Now.Sub(s.LastSeen) <= silent
			row.Version, row.Hostname, row.Certs = s.Report.AgentVersion, s.Report.Hostname, len(s.Report.Certificates)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b agentRow) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (a agentRow) matches(q string) bool {
	if q == "" {
		return true
	}
	if strings.Contains(a.ID, q) || strings.Contains(strings.ToLower(a.Hostname), q) {
		return true
	}
	for _, p := range a.Allow {
		if strings.Contains(p, q) {
			return true
		}
	}
	return false
}

// chainCert is one certificate of a chain, as shown.
type chainCert struct {
	Subject, Issuer, Serial, KeyType string
	NotBefore, NotAfter              time.Time
	DNSNames                         []string
}

func parseChain(chainPEM string) ([]chainCert, error) {
	var out []chainCert
	rest := []byte(chainPEM)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return out, fmt.Errorf("parse chain: %w", err)
		}
		out = append(out, chainCert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: hex.EncodeToString(c.SerialNumber.Bytes()),
			KeyType: keyType(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter, DNSNames: c.DNSNames})
	}
	return out, nil
}

func keyType(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}
