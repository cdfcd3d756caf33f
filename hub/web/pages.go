package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/metrics"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

const agentsPerPage = 50

// unmanagedWarnWithin marks an unmanaged certificate expiring: the same
// two weeks as the hub's unmanaged_expiring alert.
const unmanagedWarnWithin = 14 * 24 * time.Hour

type overviewData struct {
	States        []stateCount
	Expiring      []stateCount // within 7, 14, 30 days
	Agents        int
	Online        int
	Attention     []certRow // not valid, worst first
	Alerts        []admin.Alert
	Dropped       map[string]uint64
	Damaged       int
	Total         int
	QueuedOrdered int
	Timeline      timeline
}

type stateCount struct {
	Name  string
	Count int
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	st, err := s.opts.Backend.Status(r.Context())
	if err != nil {
		s.backendError(w, r, ss, "read the fleet", err)
		return
	}
	rows := certRows(st, "")
	d := overviewData{Alerts: st.Alerts, Dropped: st.Dropped, Damaged: len(st.Damaged), Total: len(rows), Agents: len(st.Agents)}
	counts := map[string]int{}
	for _, c := range rows {
		counts[c.State]++
		if c.State != metrics.StateValid {
			d.Attention = append(d.Attention, c)
		}
	}
	for _, name := range append(slices.Clone(metrics.States), "pending") {
		d.States = append(d.States, stateCount{name, counts[name]})
	}
	for _, days := range []int{7, 14, 30} {
		n := 0
		for _, c := range rows {
			if !c.NotAfter.IsZero() && c.NotAfter.Sub(st.Now) < time.Duration(days)*24*time.Hour {
				n++
			}
		}
		d.Expiring = append(d.Expiring, stateCount{strconv.Itoa(days) + " days", n})
	}
	for _, a := range agentRows(st, s.opts.SilentAfter) {
		if a.Online {
			d.Online++
		}
	}
	for _, q := range st.Requests {
		if q.State == "queued" || q.State == "waiting" || q.State == "ordering" || q.State == "retrying" {
			d.QueuedOrdered++
		}
	}
	d.Timeline = expiryTimeline(rows, st.Now)
	if len(d.Attention) > 100 {
		d.Attention = d.Attention[:100]
	}
	s.render(w, r, ss, http.StatusOK, "overview", "Fleet", d)
}

type agentsData struct {
	Q          string
	Rows       []agentRow
	Page       int
	Pages      int
	Total      int
	PrevURL    string
	NextURL    string
	Registered int
}

func (s *Server) agents(w http.ResponseWriter, r *http.Request, ss *session) {
	st, err := s.opts.Backend.Status(r.Context())
	if err != nil {
		s.backendError(w, r, ss, "read the fleet", err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	all := agentRows(st, s.opts.SilentAfter)
	var rows []agentRow
	for _, a := range all {
		if a.matches(q) {
			rows = append(rows, a)
		}
	}
	d := agentsData{Q: q, Total: len(rows), Registered: len(all)}
	d.Pages = max(1, (len(rows)+agentsPerPage-1)/agentsPerPage)
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	lo := (d.Page - 1) * agentsPerPage
	d.Rows = rows[lo:min(lo+agentsPerPage, len(rows))]
	link := func(p int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		v.Set("page", strconv.Itoa(p))
		return "/agents?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = link(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = link(d.Page + 1)
	}
	s.render(w, r, ss, http.StatusOK, "agents", "Agents", d)
}

// auditEvents reads the audit log (oldest first) and returns it newest
// first, filtered.
func (s *Server) auditEvents(r *http.Request, agent, kind, cert string, limit int) ([]store.AuditEvent, int, error) {
	rep, err := s.opts.Backend.Audit(r.Context(), admin.AuditRequest{Agent: agent})
	if err != nil {
		return nil, 0, err
	}
	var out []store.AuditEvent
	for i := len(rep.Events) - 1; i >= 0 && len(out) < limit; i-- {
		var ev store.AuditEvent
		if err := json.Unmarshal(rep.Events[i], &ev); err != nil {
			continue
		}
		if (kind == "" || string(ev.Kind) == kind) && (cert == "" || ev.CertName == cert) {
			out = append(out, ev)
		}
	}
	return out, len(rep.Damaged), nil
}

type agentData struct {
	Agent   hub.Agent
	Row     agentRow
	Certs   []certRow
	Records map[string]hub.CertRecord
	Events  []store.AuditEvent
	// Unmanaged are the certificates the agent found in its [inventory]
	// paths; UnmanagedOmitted those it found but did not send.
	Unmanaged        []unmanagedRow
	UnmanagedOmitted int
	Inventory        bool
}

// unmanagedRow is an unmanaged certificate with its expiry state.
type unmanagedRow struct {
	shared.UnmanagedCert
	State string // expired, expiring (within 14 days), valid
}

func (s *Server) agent(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	st, err := s.opts.Backend.Status(r.Context())
	if err != nil {
		s.backendError(w, r, ss, "read the fleet", err)
		return
	}
	d := agentData{Records: map[string]hub.CertRecord{}}
	found := false
	for _, a := range st.Agents {
		if a.ID == id {
			d.Agent, found = a, true
		}
	}
	if !found {
		s.fail(w, r, ss, http.StatusNotFound, "no agent "+strconv.Quote(id))
		return
	}
	for _, row := range agentRows(st, s.opts.SilentAfter) {
		if row.ID == id {
			d.Row = row
		}
	}
	d.Certs = certRows(st, id)
	for _, c := range st.Certs {
		if c.AgentID == id {
			d.Records[c.CertName] = c
		}
	}
	if as, err := s.opts.Backend.AgentStatus(r.Context(), id); err == nil {
		for _, u := range as.Report.Unmanaged {
			row := unmanagedRow{UnmanagedCert: u, State: metrics.StateValid}
			switch left := u.NotAfter.Sub(st.Now); {
			case left < 0:
				row.State = metrics.StateExpired
			case left < unmanagedWarnWithin:
				row.State = metrics.StateExpiring
			}
			d.Unmanaged = append(d.Unmanaged, row)
		}
		d.UnmanagedOmitted = as.Report.UnmanagedOmitted
		d.Inventory = len(d.Unmanaged) > 0 || d.UnmanagedOmitted > 0
	} else if !errors.Is(err, store.ErrNotFound) {
		s.backendError(w, r, ss, "read the agent's status", err)
		return
	}
	if d.Events, _, err = s.auditEvents(r, id, "", "", 20); err != nil {
		s.backendError(w, r, ss, "read the audit log", err)
		return
	}
	s.render(w, r, ss, http.StatusOK, "agent", "Agent "+id, d)
}

type certData struct {
	Agent  string
	Row    certRow
	Record hub.CertRecord
	Chain  []chainCert
	Events []store.AuditEvent
	Error  string
}

func (s *Server) cert(w http.ResponseWriter, r *http.Request, ss *session) {
	id, name := r.PathValue("id"), r.PathValue("cert")
	st, err := s.opts.Backend.Status(r.Context())
	if err != nil {
		s.backendError(w, r, ss, "read the fleet", err)
		return
	}
	d := certData{Agent: id}
	found := false
	for _, c := range certRows(st, id) {
		if c.Name == name {
			d.Row, found = c, true
		}
	}
	if !found && !slices.ContainsFunc(st.Certs, func(c hub.CertRecord) bool { return c.AgentID == id && c.CertName == name }) {
		s.fail(w, r, ss, http.StatusNotFound, "no certificate "+strconv.Quote(name)+" on agent "+strconv.Quote(id))
		return
	}
	// The fleet view carries no PEM chains; this certificate's comes on
	// its own.
	rep, err := s.opts.Backend.Cert(r.Context(), admin.CertRequest{Agent: id, Name: name, Chain: true})
	if err != nil {
		s.backendError(w, r, ss, "read the certificate", err)
		return
	}
	if rep.Cert != nil {
		d.Record = *rep.Cert
	}
	if d.Record.Chain != "" {
		if d.Chain, err = parseChain(d.Record.Chain); err != nil {
			d.Error = err.Error()
		}
	}
	if d.Events, _, err = s.auditEvents(r, id, "", name, 50); err != nil {
		s.backendError(w, r, ss, "read the audit log", err)
		return
	}
	s.render(w, r, ss, http.StatusOK, "cert", name+" on "+id, d)
}

type confirmData struct {
	Question string
	Action   string
	Fields   map[string]string
	Button   string
	Back     string
}

func (s *Server) renewConfirm(w http.ResponseWriter, r *http.Request, ss *session) {
	id, cert := r.PathValue("id"), r.URL.Query().Get("cert")
	what := "every certificate of agent " + id
	if cert != "" {
		what = "certificate " + cert + " of agent " + id
	}
	s.render(w, r, ss, http.StatusOK, "confirm", "Force renewal", confirmData{
		Question: "Renew " + what + " now, whatever its renewal time?", Action: "/agents/" + url.PathEscape(id) + "/renew",
		Fields: map[string]string{"cert": cert}, Button: "Renew now", Back: "/agents/" + url.PathEscape(id)})
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, ss *session) {
	id, cert := r.PathValue("id"), r.PostFormValue("cert")
	if err := s.opts.Backend.Renew(r.Context(), admin.RenewRequest{Agent: id, CertName: cert}); err != nil {
		s.backendError(w, r, ss, "force renewal", err)
		return
	}
	s.opts.Log.Info("web: renewal forced", "user", ss.user, "agent", id, "cert", cert)
	http.Redirect(w, r, "/agents/"+url.PathEscape(id)+"?renewing=1", http.StatusSeeOther)
}

func (s *Server) removeConfirm(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	s.render(w, r, ss, http.StatusOK, "confirm", "Remove agent", confirmData{
		Question: "Remove agent " + id + "? Every key the hub issued to it is revoked at once; it can no longer connect.",
		Action:   "/agents/" + url.PathEscape(id) + "/remove", Button: "Remove and revoke", Back: "/agents/" + url.PathEscape(id)})
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	if err := s.opts.Backend.AgentRemove(r.Context(), admin.AgentRemoveRequest{Name: id}); err != nil {
		s.backendError(w, r, ss, "remove agent", err)
		return
	}
	s.opts.Log.Info("web: agent removed", "user", ss.user, "agent", id)
	http.Redirect(w, r, "/agents", http.StatusSeeOther)
}

type enrollData struct {
	Name, Allow string
	Reply       *admin.AgentAddReply
	Token       string
}

func (s *Server) enrollForm(w http.ResponseWriter, r *http.Request, ss *session) {
	s.render(w, r, ss, http.StatusOK, "enroll", "Enroll an agent", enrollData{})
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request, ss *session) {
	d := enrollData{Name: strings.TrimSpace(r.PostFormValue("name")), Allow: r.PostFormValue("allow")}
	allow := strings.FieldsFunc(d.Allow, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })
	rep, err := s.opts.Backend.AgentAdd(r.Context(), admin.AgentAddRequest{Name: d.Name, Allow: allow})
	if err != nil {
		s.backendError(w, r, ss, "enroll agent", err)
		return
	}
	d.Reply = &rep
	if rep.Enrollment != nil {
		if d.Token, err = rep.Enrollment.Token(); err != nil {
			s.backendError(w, r, ss, "encode the enrollment token", err)
			return
		}
	}
	s.opts.Log.Info("web: agent enrolled", "user", ss.user, "agent", d.Name)
	s.render(w, r, ss, http.StatusOK, "enroll", "Agent "+d.Name+" enrolled", d)
}

type auditData struct {
	Agent, Kind string
	Limit       int
	Kinds       []store.AuditKind
	Events      []store.AuditEvent
	Damaged     int
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := auditData{Agent: strings.TrimSpace(q.Get("agent")), Kind: q.Get("kind"), Kinds: store.AuditKinds}
	d.Limit, _ = strconv.Atoi(q.Get("limit"))
	if d.Limit <= 0 || d.Limit > 1000 {
		d.Limit = 200
	}
	var err error
	if d.Events, d.Damaged, err = s.auditEvents(r, d.Agent, d.Kind, "", d.Limit); err != nil {
		s.backendError(w, r, ss, "read the audit log", err)
		return
	}
	s.render(w, r, ss, http.StatusOK, "audit", "Audit log", d)
}

type domainsData struct {
	List     admin.DomainList
	Checked  bool
	Findings []findingRow
	Added    *admin.DomainAddReply
	Name     string
}

type findingRow struct {
	Name, Record, Found, Fix string
	OK, Unreachable          bool
}

func (s *Server) domains(w http.ResponseWriter, r *http.Request, ss *session) {
	s.showDomains(w, r, ss, nil)
}

func (s *Server) showDomains(w http.ResponseWriter, r *http.Request, ss *session, added *admin.DomainAddReply) {
	list, err := s.opts.Backend.Domains(r.Context())
	if err != nil {
		s.backendError(w, r, ss, "list domains", err)
		return
	}
	d := domainsData{List: list, Added: added}
	var names []string
	if added != nil {
		names = []string{added.Domain.Name}
	}
	if r.URL.Query().Get("check") != "" || added != nil {
		rep, err := s.opts.Backend.DomainCheck(r.Context(), admin.DomainCheckRequest{Names: names})
		if err != nil {
			s.backendError(w, r, ss, "check delegations", err)
			return
		}
		d.Checked = true
		for _, f := range rep.Findings {
			d.Findings = append(d.Findings, findingRow{Name: f.Name, Record: f.Record, Found: f.Found, Fix: f.Fix, OK: f.OK, Unreachable: f.Unreachable})
		}
	}
	s.render(w, r, ss, http.StatusOK, "domains", "Domains", d)
}

func (s *Server) domainAdd(w http.ResponseWriter, r *http.Request, ss *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	rep, err := s.opts.Backend.DomainAdd(r.Context(), admin.DomainAddRequest{Name: name, Zone: r.PostFormValue("zone") == "on"})
	if err != nil {
		s.backendError(w, r, ss, "add domain", err)
		return
	}
	s.opts.Log.Info("web: domain added", "user", ss.user, "domain", rep.Domain.Name)
	s.showDomains(w, r, ss, &rep)
}
