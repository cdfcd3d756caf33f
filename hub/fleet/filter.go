package fleet

import (
	"path"
	"slices"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/metrics"
	"github.com/certfleet/certfleet/shared"
)

// Cert is one certificate block of an agent as the filters and views see
// it: the agent's report of it joined with the hub's record and latest
// request.
type Cert struct {
	Name string
	// Reported is the agent's report of the block; nil when it reported
	// none (yet).
	Reported *shared.CertStatus
	// Record is the hub's latest issued certificate; nil when none.
	Record *hub.CertRecord
	// Request is the hub's latest request for the block; nil when none.
	Request *hub.RequestState
	// NotBefore, NotAfter and RenewAt are the agent's when it reported a
	// certificate, else the hub record's.
	NotBefore, NotAfter, RenewAt time.Time
}

// Blocks returns a's certificate blocks by name: every block its report
// names or the hub holds a record or request for.
func (a *Agent) Blocks() []Cert {
	by := map[string]*Cert{}
	get := func(name string) *Cert {
		c := by[name]
		if c == nil {
			c = &Cert{Name: name}
			by[name] = c
		}
		return c
	}
	if a.Status != nil {
		for i := range a.Status.Report.Certificates {
			cs := &a.Status.Report.Certificates[i]
			get(cs.Name).Reported = cs
		}
	}
	for i := range a.Certs {
		get(a.Certs[i].CertName).Record = &a.Certs[i]
	}
	for i := range a.Requests {
		get(a.Requests[i].CertName).Request = &a.Requests[i]
	}
	out := make([]Cert, 0, len(by))
	for _, c := range by {
		switch {
		case c.Reported != nil && !c.Reported.NotAfter.IsZero():
			c.NotBefore, c.NotAfter, c.RenewAt = c.Reported.NotBefore, c.Reported.NotAfter, c.Reported.RenewAt
		case c.Record != nil:
			c.NotBefore, c.NotAfter, c.RenewAt = c.Record.NotBefore, c.Record.NotAfter, c.Record.RenewAt
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y Cert) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// States returns the admin states (admin.States) a is in at now.
func (a *Agent) States(now time.Time) []string {
	var failed, pending, expiring, expired bool
	for _, c := range a.Blocks() {
		if c.Reported != nil && c.Reported.LastResult == "failed" {
			failed = true
		}
		if q := c.Request; q != nil {
			switch q.State {
			case hub.RequestFailed, hub.RequestRetrying:
				failed = true
			case hub.RequestQueued, hub.RequestWaiting, hub.RequestOrdering:
				pending = true
			}
		}
		if c.NotAfter.IsZero() {
			if c.Reported != nil {
				pending = true // asked for, never issued
			}
			continue
		}
		switch (metrics.Cert{NotBefore: c.NotBefore, NotAfter: c.NotAfter, RenewAt: c.RenewAt}).State(now) {
		case metrics.StateExpired:
			expired = true
		case metrics.StateExpiring:
			expiring = true
		}
	}
	var out []string
	online := a.Status != nil && a.Status.Online(now)
	if online && !failed && !expiring && !expired {
		out = append(out, admin.StateOK)
	}
	for _, s := range []struct {
		on   bool
		name string
	}{{failed, admin.StateFailed}, {pending, admin.StatePending}, {expiring, admin.StateExpiring}, {expired, admin.StateExpired},
		{online, admin.StateOnline}, {a.Status != nil && !online, admin.StateOffline}, {a.Status == nil, admin.StateNever}} {
		if s.on {
			out = append(out, s.name)
		}
	}
	return out
}

// Filter selects agents; its zero value selects all.
type Filter struct {
	// Glob matches agent ids (path.Match); empty for all.
	Glob string
	// Expiring keeps agents with a certificate whose NotAfter is before
	// Now+Expiring (expired ones included); 0 for no such filter.
	Expiring time.Duration
	// States keeps agents in at least one of these admin states; empty
	// for all.
	States []string
	// Now is the time the states and expiry are judged at.
	Now time.Time
}

// Check refuses a malformed filter with a bad_request error naming the
// CLI flag.
func (f Filter) Check() error {
	if _, err := path.Match(f.Glob, ""); err != nil {
		return shared.Errorf(shared.CodeBadRequest, "--agent %q: %v", f.Glob, err)
	}
	if f.Expiring < 0 {
		return shared.Errorf(shared.CodeBadRequest, "--expiring %v: want a positive duration", f.Expiring)
	}
	for _, s := range f.States {
		if !slices.Contains(admin.States, s) {
			return shared.Errorf(shared.CodeBadRequest, "--state %q: want one of %s", s, strings.Join(admin.States, ", "))
		}
	}
	return nil
}

// Match reports whether f selects a. Cheap checks go first: the glob, then
// expiry, then the states (which look at every certificate).
func (f Filter) Match(a *Agent) bool {
	if f.Glob != "" {
		if ok, _ := path.Match(f.Glob, a.Record.ID); !ok {
			return false
		}
	}
	if f.Expiring > 0 && !a.expiresBefore(f.Now.Add(f.Expiring)) {
		return false
	}
	if len(f.States) > 0 {
		has := a.States(f.Now)
		if !slices.ContainsFunc(f.States, func(s string) bool { return slices.Contains(has, s) }) {
			return false
		}
	}
	return true
}

// expiresBefore reports whether one of a's certificates ends before t:
// Blocks' rule (the agent's certificate, else the hub's record) without
// building the blocks, since a filter runs it on every agent it passes.
func (a *Agent) expiresBefore(t time.Time) bool {
	var reported []shared.CertStatus
	if a.Status != nil {
		reported = a.Status.Report.Certificates
	}
	for _, c := range reported {
		if !c.NotAfter.IsZero() && c.NotAfter.Before(t) {
			return true
		}
	}
	for _, r := range a.Certs {
		if r.NotAfter.IsZero() || !r.NotAfter.Before(t) {
			continue
		}
		if !slices.ContainsFunc(reported, func(c shared.CertStatus) bool { return c.Name == r.CertName && !c.NotAfter.IsZero() }) {
			return true
		}
	}
	return false
}
