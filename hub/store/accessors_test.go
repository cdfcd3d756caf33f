package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func TestAgents(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	a := hub.Agent{ID: "web1", Allow: []string{"www.example.org", "*.corp.example.org"}, NKey: "UABC", CredsExpire: t0.Add(720 * time.Hour), Created: t0}

	t.Run("missing", func(t *testing.T) {
		_, err := s.GetAgent(ctx, "web1")
		mustNotFound(t, err)
		mustNotFound(t, s.DeleteAgent(ctx, "web1"))
		_, err = s.UpdateAgent(ctx, "web1", func(*hub.Agent) error { return nil })
		mustNotFound(t, err)
		if list, _, err := s.ListAgents(ctx); err != nil || len(list) != 0 {
			t.Fatalf("ListAgents on empty = %v, %v", list, err)
		}
	})
	t.Run("put get", func(t *testing.T) {
		must(t, s.PutAgent(ctx, a))
		got, err := s.GetAgent(ctx, "web1")
		must(t, err)
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("GetAgent = %+v, want %+v", got, a)
		}
	})
	t.Run("create refuses existing", func(t *testing.T) {
		if err := s.CreateAgent(ctx, a); !errors.Is(err, ErrExists) {
			t.Fatalf("CreateAgent(existing) = %v, want ErrExists", err)
		}
		must(t, s.CreateAgent(ctx, hub.Agent{ID: "db-2", Created: t0}))
	})
	t.Run("update", func(t *testing.T) {
		got, err := s.UpdateAgent(ctx, "web1", func(a *hub.Agent) error {
			a.Allow = append(a.Allow, "api.example.org")
			return nil
		})
		must(t, err)
		stored, err := s.GetAgent(ctx, "web1")
		must(t, err)
		if !slices.Equal(stored.Allow, got.Allow) || len(got.Allow) != 3 {
			t.Fatalf("after update: returned %v, stored %v", got.Allow, stored.Allow)
		}
		boom := errors.New("boom")
		if _, err := s.UpdateAgent(ctx, "web1", func(*hub.Agent) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("UpdateAgent with failing fn = %v", err)
		}
		if _, err := s.UpdateAgent(ctx, "web1", func(a *hub.Agent) error { a.ID = "other"; return nil }); err == nil {
			t.Fatal("UpdateAgent let fn change the id")
		}
	})
	t.Run("concurrent updates all land", func(t *testing.T) {
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, err := s.UpdateAgent(ctx, "db-2", func(a *hub.Agent) error {
					a.Allow = append(a.Allow, fmt.Sprintf("h%d.example.org", i))
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		got, err := s.GetAgent(ctx, "db-2")
		must(t, err)
		if len(got.Allow) != n {
			t.Fatalf("after %d concurrent appends Allow = %v", n, got.Allow)
		}
	})
	t.Run("list sorted", func(t *testing.T) {
		list, _, err := s.ListAgents(ctx)
		must(t, err)
		var ids []string
		for _, a := range list {
			ids = append(ids, a.ID)
		}
		if !slices.Equal(ids, []string{"db-2", "web1"}) {
			t.Fatalf("ListAgents ids = %v", ids)
		}
	})
	t.Run("delete", func(t *testing.T) {
		must(t, s.DeleteAgent(ctx, "web1"))
		_, err := s.GetAgent(ctx, "web1")
		mustNotFound(t, err)
		// A deleted key can be created again.
		must(t, s.CreateAgent(ctx, a))
	})
}

func TestDomains(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	must(t, s.PutDomain(ctx, hub.Domain{Name: "WWW.Example.org.", Mode: hub.ModeCNAME, Label: "k3x9", Created: t0}))
	must(t, s.PutDomain(ctx, hub.Domain{Name: "corp.example.net", Mode: hub.ModeZone, Created: t0}))

	d, err := s.GetDomain(ctx, "www.EXAMPLE.org")
	must(t, err)
	want := hub.Domain{Name: "www.example.org", Mode: hub.ModeCNAME, Label: "k3x9", Created: t0}
	if d != want {
		t.Fatalf("GetDomain = %+v, want %+v (stored normalized)", d, want)
	}
	if err := s.CreateDomain(ctx, want); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateDomain(existing) = %v", err)
	}
	list, _, err := s.ListDomains(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "corp.example.net" || list[1].Name != "www.example.org" {
		t.Fatalf("ListDomains = %+v", list)
	}
	must(t, s.DeleteDomain(ctx, "corp.example.net."))
	_, err = s.GetDomain(ctx, "corp.example.net")
	mustNotFound(t, err)
	mustNotFound(t, s.DeleteDomain(ctx, "corp.example.net"))

	bad := []struct {
		name string
		d    hub.Domain
		want string
	}{
		{"wildcard", hub.Domain{Name: "*.example.org", Mode: hub.ModeZone}, "no wildcards"},
		{"single label", hub.Domain{Name: "localhost", Mode: hub.ModeZone}, "single label"},
		{"IP", hub.Domain{Name: "192.0.2.1", Mode: hub.ModeZone}, "IP address"},
		{"unknown mode", hub.Domain{Name: "a.example.org", Mode: "http"}, `mode "http"`},
		{"cname without label", hub.Domain{Name: "a.example.org", Mode: hub.ModeCNAME}, "label"},
		{"cname label with dot", hub.Domain{Name: "a.example.org", Mode: hub.ModeCNAME, Label: "a.b"}, "label"},
		{"zone with label", hub.Domain{Name: "a.example.org", Mode: hub.ModeZone, Label: "x"}, "no label"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutDomain(ctx, tt.d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PutDomain(%+v) = %v, want error with %q", tt.d, err, tt.want)
			}
		})
	}
}

func TestCertsAndResults(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	rec := func(agent, cert string) hub.CertRecord {
		return hub.CertRecord{AgentID: agent, CertName: cert, RequestID: "req-" + agent + "-0001", Names: []string{"www.example.org"},
			Serial: "0a1b", NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour), Chain: "-----BEGIN CERTIFICATE-----\n", CA: "letsencrypt", Issued: t0}
	}
	// Block names with dots, double dots and a trailing dot all get keys;
	// agent "a" must not see agent "ab"'s certificates.
	records := []hub.CertRecord{rec("a", "web"), rec("a", "www.example.org"), rec("a", "x..y"), rec("a", "x.y."), rec("a", "x_y-"), rec("ab", "web")}
	for _, r := range records {
		must(t, s.PutCert(ctx, r))
	}
	for _, r := range records {
		got, err := s.GetCert(ctx, r.AgentID, r.CertName)
		must(t, err)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("GetCert(%s, %s) = %+v", r.AgentID, r.CertName, got)
		}
	}
	all, _, err := s.ListCerts(ctx, "")
	must(t, err)
	if len(all) != len(records) {
		t.Fatalf("ListCerts(all) = %d records, want %d", len(all), len(records))
	}
	mine, _, err := s.ListCerts(ctx, "a")
	must(t, err)
	if len(mine) != 5 {
		t.Fatalf("ListCerts(a) = %d records, want 5", len(mine))
	}
	for _, r := range mine {
		if r.AgentID != "a" {
			t.Fatalf("ListCerts(a) returned agent %s's cert", r.AgentID)
		}
	}
	must(t, s.DeleteCert(ctx, "a", "x..y"))
	_, err = s.GetCert(ctx, "a", "x..y")
	mustNotFound(t, err)
	if _, err := s.GetCert(ctx, "a", "x.y."); err != nil {
		t.Fatalf("deleting x..y touched x.y.: %v", err)
	}
	_, err = s.GetCert(ctx, "nobody", "web")
	mustNotFound(t, err)

	res := shared.CertResult{Type: shared.TypeCertResult, RequestID: "req-a-0001", CertName: "web", Status: shared.StatusFailed,
		Error: shared.Errorf(shared.CodeRateLimited, "slow down"), RetryAfter: t0.Add(time.Hour), Finished: t0}
	_, err = s.GetResult(ctx, "a", res.RequestID)
	mustNotFound(t, err)
	must(t, s.PutResult(ctx, "a", res))
	got, err := s.GetResult(ctx, "a", res.RequestID)
	must(t, err)
	if !reflect.DeepEqual(got, res) {
		t.Fatalf("GetResult = %+v, want %+v", got, res)
	}
	_, err = s.GetResult(ctx, "ab", res.RequestID)
	mustNotFound(t, err)
}

func TestRequests(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	st := hub.RequestState{AgentID: "web1", RequestID: shared.NewRequestID(), CertName: "web", Names: []string{"www.example.org"}, State: "queued", Updated: t0}
	_, err := s.GetRequest(ctx, st.AgentID, st.RequestID)
	mustNotFound(t, err)
	must(t, s.CreateRequest(ctx, st))
	if err := s.CreateRequest(ctx, st); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateRequest = %v, want ErrExists", err)
	}
	got, err := s.UpdateRequest(ctx, st.AgentID, st.RequestID, func(r *hub.RequestState) error {
		r.State, r.Attempts = "ordering", r.Attempts+1
		return nil
	})
	must(t, err)
	stored, err := s.GetRequest(ctx, st.AgentID, st.RequestID)
	must(t, err)
	if !reflect.DeepEqual(got, stored) || stored.State != "ordering" || stored.Attempts != 1 {
		t.Fatalf("after update: returned %+v, stored %+v", got, stored)
	}
	other := st
	other.AgentID, other.RequestID = "api", shared.NewRequestID()
	must(t, s.PutRequest(ctx, other))
	list, _, err := s.ListRequests(ctx)
	must(t, err)
	if len(list) != 2 || list[0].AgentID != "api" || list[1].AgentID != "web1" {
		t.Fatalf("ListRequests = %+v", list)
	}
	_, err = s.UpdateRequest(ctx, "web1", shared.NewRequestID(), func(*hub.RequestState) error { return nil })
	mustNotFound(t, err)
}

func TestStatus(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	_, err := s.GetStatus(ctx, "web1")
	mustNotFound(t, err)
	rep := shared.StatusReport{Type: shared.TypeStatusReport, AgentVersion: "0.1.0", Hostname: "web1",
		Certificates: []shared.CertStatus{{Name: "web", Names: []string{"www.example.org"}, Serial: "0a", NotAfter: t0.Add(time.Hour)}}, Sent: t0}
	st := hub.AgentStatus{AgentID: "web1", Report: rep, LastSeen: t0, Connected: true}
	must(t, s.PutStatus(ctx, st))
	got, err := s.GetStatus(ctx, "web1")
	must(t, err)
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("GetStatus = %+v, want %+v", got, st)
	}
	// UpdateStatus creates when missing.
	up, err := s.UpdateStatus(ctx, "db", func(st *hub.AgentStatus) error { st.Connected = true; return nil })
	must(t, err)
	if up.AgentID != "db" || !up.Connected {
		t.Fatalf("UpdateStatus(new) = %+v", up)
	}
	up, err = s.UpdateStatus(ctx, "web1", func(st *hub.AgentStatus) error { st.Connected = false; return nil })
	must(t, err)
	if up.Connected || up.Report.Hostname != "web1" {
		t.Fatalf("UpdateStatus(existing) lost fields: %+v", up)
	}
	list, _, err := s.ListStatus(ctx)
	must(t, err)
	if len(list) != 2 || list[0].AgentID != "db" || list[1].AgentID != "web1" {
		t.Fatalf("ListStatus = %+v", list)
	}
	must(t, s.DeleteStatus(ctx, "db"))
	_, err = s.GetStatus(ctx, "db")
	mustNotFound(t, err)
}

func TestInvalidKeys(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"agent id with dot", func() error { _, err := s.GetAgent(ctx, "web.1"); return err }, `agent id "web.1"`},
		{"agent id wildcard", func() error { return s.PutAgent(ctx, hub.Agent{ID: "*"}) }, `agent id "*"`},
		{"agent id upper case", func() error { return s.DeleteAgent(ctx, "Web1") }, `agent id "Web1"`},
		{"empty agent id", func() error { _, err := s.GetStatus(ctx, ""); return err }, `agent id ""`},
		{"cert name with space", func() error { _, err := s.GetCert(ctx, "web1", "my cert"); return err }, `cert_name "my cert"`},
		{"cert of bad agent", func() error { _, _, err := s.ListCerts(ctx, "a>b"); return err }, `agent id "a>b"`},
		{"request id short", func() error { _, err := s.GetRequest(ctx, "web1", "abc"); return err }, `request_id "abc"`},
		{"request id with dot", func() error { _, err := s.GetResult(ctx, "web1", "abcdefgh.ij"); return err }, `request_id "abcdefgh.ij"`},
		{"domain with space", func() error { _, err := s.GetDomain(ctx, "exa mple.org"); return err }, "exa mple.org"},
		{"challenge key with dot", func() error { return s.DeleteChallenge(ctx, "a.b") }, `challenge key "a.b"`},
		{"challenge key empty", func() error { _, err := s.GetChallenge(ctx, ""); return err }, `challenge key ""`},
		{"audit agent", func() error { _, _, err := s.ReadAudit(ctx, AuditFilter{Agent: "a.>"}); return err }, `agent id "a.>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
			if errors.Is(err, ErrNotFound) {
				t.Fatalf("invalid input reported as not found: %v", err)
			}
		})
	}
}
