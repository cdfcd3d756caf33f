package service

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/shared"
)

// fakeChain is a PEM chain of realistic size (two certificates).
var fakeChain = strings.Repeat("-----BEGIN CERTIFICATE-----\n"+strings.Repeat(strings.Repeat("A", 64)+"\n", 20)+"-----END CERTIFICATE-----\n", 2)

// fleetAgent is agent i of a test fleet: its record, a status report of
// certs certificates as an agent sends it, the hub's records of them
// (with chains) and two requests per certificate. Every tenth agent's
// newest request is retrying and its second certificate expires in 5
// days.
func fleetAgent(i, certs int, now time.Time) (hub.Agent, hub.AgentStatus, []hub.CertRecord, []hub.RequestState) {
	id := fmt.Sprintf("web-%05d", i)
	day := 24 * time.Hour
	a := hub.Agent{ID: id, Allow: []string{"*." + id + ".corp.example.org", id + ".example.org"}, NKey: "U" + strings.Repeat("A", 55),
		Account: "A" + strings.Repeat("B", 55), CredsExpire: now.Add(20 * day), Created: now.Add(-200 * day), Updated: now.Add(-day)}
	st := hub.AgentStatus{AgentID: id, LastSeen: now.Add(-time.Minute), Reported: now.Add(-time.Minute), Connected: true,
		Report: shared.StatusReport{Type: shared.TypeStatusReport, AgentVersion: "0.4.1", Hostname: id + ".corp.example.org", Sent: now.Add(-time.Minute),
			Transport: "tls://hub.example.org:4222"}}
	var recs []hub.CertRecord
	var reqs []hub.RequestState
	for c := range certs {
		name := fmt.Sprintf("site%d", c)
		names := []string{name + "." + id + ".example.org", "www." + name + "." + id + ".example.org"}
		left := time.Duration(30+c) * day
		if i%10 == 0 && c == 1 {
			left = 5 * day
		}
		st.Report.Certificates = append(st.Report.Certificates, shared.CertStatus{Name: name, Names: names, Serial: fmt.Sprintf("%040x", i*100+c),
			NotBefore: now.Add(left - 90*day), NotAfter: now.Add(left), RenewAt: now.Add(left - 30*day), LastAttempt: now.Add(left - 90*day),
			LastResult: "ok", Installed: now.Add(left - 90*day)})
		recs = append(recs, hub.CertRecord{AgentID: id, CertName: name, RequestID: fmt.Sprintf("req-%05d-%d-b", i, c), Names: names,
			Serial: fmt.Sprintf("%040x", i*100+c), NotBefore: now.Add(left - 90*day), NotAfter: now.Add(left), RenewAt: now.Add(left - 30*day),
			Chain: fakeChain, CA: "letsencrypt", CertURL: "https://acme.example.org/acme/cert/" + fmt.Sprintf("%040x", i*100+c),
			Profile: "classic", Issued: now.Add(left - 90*day)})
		for j, state := range []string{hub.RequestFailed, hub.RequestIssued} {
			if i%10 == 0 && j == 1 {
				state = hub.RequestRetrying
			}
			reqs = append(reqs, hub.RequestState{AgentID: id, RequestID: fmt.Sprintf("req-%05d-%d-%c", i, c, 'a'+j), CertName: name, Names: names,
				State: state, Attempts: j + 1, CA: "letsencrypt", Updated: now.Add(time.Duration(j-2) * time.Hour)})
		}
	}
	return a, st, recs, reqs
}

// TestStatusOverMaxPayload: a fleet whose certificates take several times
// NATS's 1 MiB max payload, stored as hubs store it, is read over the
// admin API in pages that each fit: every agent exactly once, no PEM
// chain, only the latest request per certificate, and the largest pages
// cut by size before they would be refused.
func TestStatusOverMaxPayload(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 3,000 agents")
	}
	th := newTestHub(t)
	ctx := testCtx(t)
	if err := th.subscribeAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	const agents, certs = 3000, 3
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a, st, recs, reqs := fleetAgent(i, certs, now)
				err := th.store.PutAgent(ctx, a)
				if err == nil {
					err = th.store.PutStatus(ctx, st)
				}
				for _, c := range recs {
					if err == nil {
						err = th.store.PutCert(ctx, c)
					}
				}
				for _, q := range reqs {
					if err == nil {
						err = th.store.PutRequest(ctx, q)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range agents {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := fmt.Sprintf("web-%05d", agents-1)
	th.awaitFleet(t, "every agent whole", func(s *fleet.Snapshot) bool {
		if s.Len() != agents {
			return false
		}
		for _, a := range s.All() {
			if a.Status == nil || len(a.Certs) != certs || len(a.Requests) != certs {
				return false
			}
		}
		return s.Get(last) != nil
	})
	total := 0
	for _, a := range th.fleet.All() {
		total += a.Size()
	}
	maxPayload := int(th.nc.MaxPayload())
	t.Logf("the fleet view holds %d bytes of agents", total)
	if total < 4*maxPayload {
		t.Fatalf("the fleet takes %d bytes, not several times the %d max payload", total, maxPayload)
	}

	cl := &admin.Client{NC: th.nc, Timeout: 20 * time.Second}
	// Read the raw replies: the size on the wire is what must fit.
	call := func(req admin.StatusRequest) (admin.StatusReply, int) {
		t.Helper()
		b, _ := json.Marshal(req)
		msg, err := th.nc.Request(admin.Subject(admin.VerbStatus), b, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r admin.StatusReply
		if err := cl.Call(ctx, admin.VerbStatus, req, &r); err != nil {
			t.Fatal(err)
		}
		return r, len(msg.Data)
	}
	for _, limit := range []int{0, admin.MaxStatusLimit} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			seen := map[string]int{}
			after, pages, cut, largest := "", 0, 0, 0
			for {
				r, size := call(admin.StatusRequest{After: after, Limit: limit})
				pages++
				if size >= maxPayload {
					t.Fatalf("page %d is %d bytes, max payload %d", pages, size, maxPayload)
				}
				largest = max(largest, size)
				want := limit
				if want == 0 {
					want = admin.DefaultStatusLimit
				}
				if r.Next != "" && len(r.Agents) < want {
					cut++
				}
				for _, a := range r.Agents {
					seen[a.ID]++
				}
				for _, c := range r.Certs {
					if c.Chain != "" {
						t.Fatal("a PEM chain in the fleet view")
					}
				}
				if len(r.Requests) != len(r.Agents)*certs {
					t.Fatalf("%d requests for %d agents: want only the latest per certificate", len(r.Requests), len(r.Agents))
				}
				for _, q := range r.Requests {
					if !strings.HasSuffix(q.RequestID, "-b") {
						t.Fatalf("request %s is not the latest", q.RequestID)
					}
				}
				if r.Next == "" {
					break
				}
				after = r.Next
			}
			if len(seen) != agents {
				t.Fatalf("%d agents seen in %d pages, want %d", len(seen), pages, agents)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("agent %s on %d pages", id, n)
				}
			}
			t.Logf("%d pages, %d cut to fit, largest %d bytes", pages, cut, largest)
			if limit == admin.MaxStatusLimit && cut == 0 {
				t.Fatalf("no page of %d agents was cut to fit (%d pages)", limit, pages)
			}
		})
	}
	if strings.Contains(th.logs.String(), "admin reply too large") {
		t.Fatal("a reply was refused as too large")
	}

	// The filters reach the fleet view over the wire.
	for _, tc := range []struct {
		name string
		req  admin.StatusRequest
		want int
	}{
		{"glob", admin.StatusRequest{Agent: "web-0001*"}, 10},
		{"expiring within 14 days", admin.StatusRequest{Expiring: 14 * 24 * time.Hour, Limit: admin.MaxStatusLimit}, agents / 10},
		{"failed", admin.StatusRequest{State: []string{admin.StateFailed}, Limit: admin.MaxStatusLimit}, agents / 10},
		{"glob and state", admin.StatusRequest{Agent: "web-00[0-4]*", State: []string{admin.StateFailed}}, 50},
		{"never", admin.StatusRequest{State: []string{admin.StateNever}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, after := 0, ""
			for {
				tc.req.After = after
				r, _ := call(tc.req)
				n += len(r.Agents)
				if r.Next == "" {
					break
				}
				after = r.Next
			}
			if n != tc.want {
				t.Fatalf("%d agents, want %d", n, tc.want)
			}
		})
	}

	// Refusals come back as errors, and the hub logs them.
	for _, bad := range []admin.StatusRequest{{Limit: admin.MaxStatusLimit + 1}, {Agent: "[x"}, {State: []string{"broken"}}, {Expiring: -time.Hour}} {
		var r admin.StatusReply
		if err := cl.Call(ctx, admin.VerbStatus, bad, &r); shared.CodeOf(err) != shared.CodeBadRequest {
			t.Errorf("%+v: %v, want bad_request", bad, err)
		}
	}
	if !strings.Contains(th.logs.String(), "admin request failed") {
		t.Error("refused admin requests not logged")
	}
}

// TestAgentListPages: agent list comes in cursor pages too.
func TestAgentListPages(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	if err := th.subscribeAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	const agents = 25
	for i := range agents {
		a, _, _, _ := fleetAgent(i, 0, time.Now())
		if err := th.store.PutAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	th.awaitFleet(t, "every agent", func(s *fleet.Snapshot) bool { return s.Len() == agents })
	cl := &admin.Client{NC: th.nc, Timeout: 10 * time.Second}
	var ids []string
	after := ""
	for {
		var r admin.AgentList
		if err := cl.Call(ctx, admin.VerbAgentList, admin.AgentListRequest{After: after, Limit: 10}, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Agents) > 10 {
			t.Fatalf("%d agents on a page of 10", len(r.Agents))
		}
		for _, a := range r.Agents {
			ids = append(ids, a.ID)
		}
		if r.Next == "" {
			break
		}
		after = r.Next
	}
	if len(ids) != agents || ids[0] != "web-00000" || ids[agents-1] != fmt.Sprintf("web-%05d", agents-1) {
		t.Fatalf("pages gave %v", ids)
	}
	var r admin.AgentList
	if err := cl.Call(ctx, admin.VerbAgentList, admin.AgentListRequest{Agent: "web-0001*"}, &r); err != nil || len(r.Agents) != 10 {
		t.Fatalf("web-0001*: %d agents, %v", len(r.Agents), err)
	}
	if err := cl.Call(ctx, admin.VerbAgentList, admin.AgentListRequest{Limit: admin.MaxAgentListLimit + 1}, &r); shared.CodeOf(err) != shared.CodeBadRequest {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestCertShow: one certificate's details and, on demand, its chain.
func TestCertShow(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	a, st, recs, reqs := fleetAgent(1, 2, time.Now().UTC())
	for _, err := range []error{th.store.PutAgent(ctx, a), th.store.PutStatus(ctx, st), th.store.PutCert(ctx, recs[0]), th.store.PutRequest(ctx, reqs[1])} {
		if err != nil {
			t.Fatal(err)
		}
	}
	th.awaitFleet(t, "the agent", func(s *fleet.Snapshot) bool {
		a := s.Get("web-00001")
		return a != nil && a.Status != nil && len(a.Certs) == 1 && len(a.Requests) == 1
	})
	show := func(req admin.CertRequest) (admin.CertReply, error) {
		b, _ := json.Marshal(req)
		rep, err := th.adminCertShow(ctx, b)
		if err != nil {
			return admin.CertReply{}, err
		}
		return rep.(admin.CertReply), nil
	}
	r, err := show(admin.CertRequest{Agent: "web-00001", Name: "site0"})
	if err != nil || r.Cert == nil || r.Cert.Chain != "" || r.Reported == nil || r.Reported.Name != "site0" || r.Request == nil {
		t.Fatalf("site0 = %+v, %v", r, err)
	}
	if r, err = show(admin.CertRequest{Agent: "web-00001", Name: "site0", Chain: true}); err != nil || r.Cert.Chain != fakeChain {
		t.Fatalf("site0 with its chain = %+v, %v", r.Cert, err)
	}
	// Reported by the agent, no record at the hub.
	if r, err = show(admin.CertRequest{Agent: "web-00001", Name: "site1", Chain: true}); err != nil || r.Cert != nil || r.Reported == nil {
		t.Fatalf("site1 = %+v, %v", r, err)
	}
	for _, tc := range []struct {
		req  admin.CertRequest
		code shared.Code
	}{
		{admin.CertRequest{Agent: "web-00001", Name: "nope"}, shared.CodeNotFound},
		{admin.CertRequest{Agent: "nobody", Name: "site0"}, shared.CodeUnknownAgent},
		{admin.CertRequest{Agent: "web-00001", Name: "../x"}, shared.CodeBadRequest},
	} {
		if _, err := show(tc.req); shared.CodeOf(err) != tc.code {
			t.Errorf("%+v: %v, want %s", tc.req, err, tc.code)
		}
	}
}

// BenchmarkStatus10k: the first status page, encoded, with 10,000 agents
// in the fleet view (three certificates each). Besides wall time it
// reports the process's CPU time per page (cpu-ns/op, GC included), which
// a machine shared with other work does not inflate.
func BenchmarkStatus10k(b *testing.B) {
	th := newTestHub(b)
	s := fleet.New()
	now := time.Now().UTC()
	for i := range 10000 {
		a, st, recs, reqs := fleetAgent(i, 3, now)
		s.PutAgent(a)
		s.PutStatus(st)
		for _, c := range recs {
			s.PutCert(c)
		}
		for _, q := range reqs {
			s.PutRequest(q)
		}
	}
	th.fleet = s
	ctx := testCtx(b)
	req, _ := json.Marshal(admin.StatusRequest{})
	// page: the hub's work (filter, page, alerts); encoded: and the JSON
	// encoding of the reply, as the admin API sends it.
	for _, encode := range []bool{false, true} {
		name := "page"
		if encode {
			name = "encoded"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			n, size := 0, 0
			for b.Loop() {
				n++
				rep, err := th.adminStatus(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if !encode {
					continue
				}
				body, err := json.Marshal(rep)
				if err != nil {
					b.Fatal(err)
				}
				if int64(len(body)) > th.nc.MaxPayload() {
					b.Fatalf("%d bytes", len(body))
				}
				size = len(body)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(n), "cpu-ns/op")
			if encode {
				b.ReportMetric(float64(size), "reply-bytes")
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
