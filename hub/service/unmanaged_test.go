package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/alarm"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

func unmanagedEntry(i int, notAfter time.Time, fill int) shared.UnmanagedCert {
	return shared.UnmanagedCert{Path: fmt.Sprintf("/etc/ssl/%04d%s.pem", i, strings.Repeat("p", fill)), Subject: "CN=legacy", Issuer: "CN=old ca",
		SANs: []string{"legacy.example.test"}, NotAfter: notAfter, SHA256: fmt.Sprintf("%064x", i)}
}

// TestStatusUnmanagedHostile: the unmanaged list of a status report is
// hostile input. More entries than the protocol allows: the report is
// refused whole, with a log line naming the agent and the limit. Fields
// past their bounds: the report is kept with them cut, and the log says
// so.
func TestStatusUnmanagedHostile(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	if err := th.store.PutAgent(ctx, hub.Agent{ID: "web1", Allow: []string{"www.example.test"}, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Status writes are buffered for agents the fleet view knows.
	th.awaitFleet(t, "web1", func(s *fleet.Snapshot) bool { return s.Get("web1") != nil })
	send := func(rep *shared.StatusReport) {
		t.Helper()
		b, err := shared.Encode(rep)
		if err != nil {
			t.Fatal(err)
		}
		th.serve(ctx, th.onStatus, "web1", "corr1", shared.Up("web1", shared.VerbStatus), b)
		th.statusW.flush(ctx)
	}
	notAfter := time.Now().Add(24 * time.Hour)

	over := &shared.StatusReport{AgentVersion: "evil"}
	for i := range shared.MaxUnmanaged + 1 {
		over.Unmanaged = append(over.Unmanaged, unmanagedEntry(i, notAfter, 0))
	}
	send(over)
	if _, err := th.store.GetStatus(ctx, "web1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a report with %d unmanaged entries was stored (err %v)", len(over.Unmanaged), err)
	}
	logs := th.logs.String()
	if !strings.Contains(logs, "agent request refused") || !strings.Contains(logs, "agent=web1") ||
		!strings.Contains(logs, fmt.Sprintf("unmanaged: %d entries, limit %d", shared.MaxUnmanaged+1, shared.MaxUnmanaged)) {
		t.Fatalf("refusal not logged clearly:\n%s", logs)
	}

	long := strings.Repeat("x", 10*shared.MaxPathLen)
	bad := unmanagedEntry(1, notAfter, 0)
	bad.Path, bad.Subject, bad.Issuer, bad.Serial = long, long, long, long
	bad.SHA256 = "not a fingerprint"
	bad.Duplicates = -5
	for i := range 5 * shared.MaxUnmanagedSANs {
		bad.SANs = append(bad.SANs, fmt.Sprintf("n%d.%s.example.test", i, strings.Repeat("a", 60)))
	}
	sans := len(bad.SANs)
	send(&shared.StatusReport{AgentVersion: "odd", Unmanaged: []shared.UnmanagedCert{bad, unmanagedEntry(2, notAfter, 0)}})
	st, err := th.store.GetStatus(ctx, "web1")
	if err != nil {
		t.Fatalf("a report with oversize fields was not kept: %v", err)
	}
	got := st.Report.Unmanaged
	if len(got) != 2 {
		t.Fatalf("%d entries stored", len(got))
	}
	u := got[0]
	limits := []struct {
		field string
		n     int
		max   int
	}{{"path", len(u.Path), shared.MaxPathLen}, {"subject", len(u.Subject), shared.MaxDNLen}, {"issuer", len(u.Issuer), shared.MaxDNLen},
		{"serial", len(u.Serial), shared.MaxSerialLen}, {"sans", len(u.SANs), shared.MaxUnmanagedSANs}}
	for _, l := range limits {
		if l.n > l.max+len("…") {
			t.Errorf("%s: %d stored, limit %d", l.field, l.n, l.max)
		}
	}
	if u.SANsOmitted != sans-shared.MaxUnmanagedSANs || u.SHA256 != "" || u.Duplicates != 0 {
		t.Errorf("stored %d SANs omitted, fingerprint %q, duplicates %d", u.SANsOmitted, u.SHA256, u.Duplicates)
	}
	if got[1].Path != unmanagedEntry(2, notAfter, 0).Path || got[1].SHA256 == "" {
		t.Errorf("a correct entry was changed: %+v", got[1])
	}
	if !strings.Contains(th.logs.String(), "unmanaged certificate fields over the protocol's bounds were cut") {
		t.Fatalf("cutting not logged:\n%s", th.logs.String())
	}
}

// TestStatusUnmanagedPages: the fleet view counts unmanaged certificates
// always and lists them only when asked; then pages end by size, so every
// reply stays below NATS's 1 MiB even when every agent sends the most the
// protocol allows, and every agent and entry comes exactly once.
func TestStatusUnmanagedPages(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	const agents = 30
	now := time.Now().UTC()
	for i := range agents {
		id := fmt.Sprintf("agent%02d", i)
		if err := th.store.PutAgent(ctx, hub.Agent{ID: id, Allow: []string{id + ".example.test"}, Created: now}); err != nil {
			t.Fatal(err)
		}
		rep := shared.StatusReport{AgentVersion: "1", UnmanagedOmitted: 7}
		for j := range shared.MaxUnmanaged {
			// ~2 KiB an entry: the agent's message is near its 256 KiB limit.
			rep.Unmanaged = append(rep.Unmanaged, unmanagedEntry(j, now.Add(time.Duration(j+1)*24*time.Hour), 1800))
		}
		if b, err := shared.Encode(&rep); err != nil || len(b) > shared.MaxMessageSize {
			t.Fatalf("test report of %d bytes: %v", len(b), err)
		}
		if err := th.store.PutStatus(ctx, hub.AgentStatus{AgentID: id, Report: rep, LastSeen: now, Connected: true}); err != nil {
			t.Fatal(err)
		}
	}
	th.awaitFleet(t, "every agent's status", func(s *fleet.Snapshot) bool {
		for _, a := range s.All() {
			if a.Status == nil {
				return false
			}
		}
		return s.Len() == agents
	})
	cases := []struct {
		name      string
		unmanaged bool
	}{{"counted only", false}, {"listed", true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			entries, after, pages, biggest := 0, "", 0, 0
			for {
				data, _ := json.Marshal(admin.StatusRequest{After: after, Unmanaged: tc.unmanaged})
				rep, err := th.adminStatus(ctx, data)
				if err != nil {
					t.Fatal(err)
				}
				r := rep.(admin.StatusReply)
				body, _ := json.Marshal(r)
				if len(body) > 1<<20 {
					t.Fatalf("page %d is %d bytes", pages, len(body))
				}
				pages++
				biggest = max(biggest, len(body))
				for _, a := range r.Agents {
					if seen[a.ID] {
						t.Fatalf("agent %s on two pages", a.ID)
					}
					seen[a.ID] = true
					if r.UnmanagedCounts[a.ID] != shared.MaxUnmanaged+7 {
						t.Fatalf("count for %s: %d", a.ID, r.UnmanagedCounts[a.ID])
					}
				}
				for _, s := range r.Status {
					entries += len(s.Report.Unmanaged)
				}
				// Alerts follow their agents onto the page.
				for _, al := range r.Alerts {
					if al.Kind == AlertUnmanaged && !seen[al.Agent] {
						t.Fatalf("alert for %s on a page without it", al.Agent)
					}
				}
				if r.Next == "" {
					break
				}
				after = r.Next
			}
			if len(seen) != agents {
				t.Fatalf("%d agents in %d pages", len(seen), pages)
			}
			t.Logf("%d agents in %d pages, the biggest %d bytes", agents, pages, biggest)
			wantEntries, wantPages := 0, 1
			if tc.unmanaged {
				wantEntries, wantPages = agents*shared.MaxUnmanaged, 2
			}
			if entries != wantEntries || pages < wantPages {
				t.Fatalf("%d entries in %d pages, want %d entries in at least %d pages", entries, pages, wantEntries, wantPages)
			}
		})
	}
}

// TestUnmanagedAlertsAndAlarms: an unmanaged certificate expiring within
// two weeks raises the status alert unmanaged_expiring, and an [[alarm]]
// channel is sent it once (keyed by agent and path) and its resolution
// when the file holds a fresh certificate.
func TestUnmanagedAlertsAndAlarms(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	rcv := &alarmReceiver{secret: "s"}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	ch := config.AlarmConfig{Name: "ops", Type: config.AlarmWebhook, URL: srv.URL, Secret: "s",
		ExpiringWithin: config.Duration(14 * 24 * time.Hour), FailedAttempts: 3, OfflineFor: config.Duration(time.Hour)}
	th.cfg.Alarm = []config.AlarmConfig{ch}
	th.alarmChans = []alarmChannel{{cfg: ch, sender: &alarm.Webhook{URL: srv.URL, Secret: "s", Attempts: 1}}}
	now := time.Now().UTC()
	if err := th.store.PutAgent(ctx, hub.Agent{ID: "web1", Allow: []string{"www.example.test"}, Created: now}); err != nil {
		t.Fatal(err)
	}
	put := func(us ...shared.UnmanagedCert) {
		t.Helper()
		if err := th.store.PutStatus(ctx, hub.AgentStatus{AgentID: "web1", LastSeen: time.Now().UTC(), Connected: true,
			Report: shared.StatusReport{Unmanaged: us}}); err != nil {
			t.Fatal(err)
		}
		// Alerts and alarms read the fleet view, which follows the store.
		th.awaitFleet(t, "the new status", func(s *fleet.Snapshot) bool {
			a := s.Get("web1")
			return a != nil && a.Status != nil && len(a.Status.Report.Unmanaged) == len(us) &&
				a.Status.Report.Unmanaged[0].SHA256 == us[0].SHA256 && a.Status.Report.Unmanaged[0].NotAfter.Equal(us[0].NotAfter)
		})
	}
	soon := unmanagedEntry(1, now.Add(3*24*time.Hour), 0)
	put(soon, unmanagedEntry(2, now.Add(90*24*time.Hour), 0))

	rep, err := th.adminStatus(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []admin.Alert
	for _, al := range rep.(admin.StatusReply).Alerts {
		if al.Kind == AlertUnmanaged {
			alerts = append(alerts, al)
		}
	}
	if len(alerts) != 1 || alerts[0].Agent != "web1" || !strings.Contains(alerts[0].Message, soon.Path) || !strings.Contains(alerts[0].Message, "does not renew it") {
		t.Fatalf("unmanaged alerts: %+v", alerts)
	}

	th.deliverAlarms(ctx)
	th.deliverAlarms(ctx)
	ev := rcv.got()
	if len(ev) != 1 || ev[0].State != alarm.StateRaised || ev[0].Condition.Kind != alarm.KindUnmanagedExpiring || ev[0].Condition.Cert != soon.Path {
		t.Fatalf("events: %+v", ev)
	}
	fresh := soon
	fresh.NotAfter, fresh.SHA256 = now.Add(90*24*time.Hour), strings.Repeat("f", 64)
	put(fresh)
	th.deliverAlarms(ctx)
	ev = rcv.got()
	if len(ev) != 2 || ev[1].State != alarm.StateResolved || ev[1].Condition.Key() != ev[0].Condition.Key() {
		t.Fatalf("events after renewal: %+v", ev)
	}
}
