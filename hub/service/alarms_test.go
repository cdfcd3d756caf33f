package service

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/alarm"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/shared"
)

// alarmReceiver is a local webhook endpoint; while failing it answers 500.
type alarmReceiver struct {
	mu      sync.Mutex
	events  []alarm.Event
	failing bool
	secret  string
	badSig  int
}

func (r *alarmReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if !alarm.Verify(r.secret, b, req.Header.Get(alarm.SignatureHeader)) {
		r.badSig++
	}
	var ev alarm.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.events = append(r.events, ev)
}

func (r *alarmReceiver) got() []alarm.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alarm.Event(nil), r.events...)
}

func (r *alarmReceiver) setFailing(f bool) {
	r.mu.Lock()
	r.failing = f
	r.mu.Unlock()
}

// TestAlarmsSentOnceAcrossHubs: two hubs sharing a store, and a restarted
// one, send a raised condition once, then its resolution once.
func TestAlarmsSentOnceAcrossHubs(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	rcv := &alarmReceiver{secret: "s"}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	ch := config.AlarmConfig{Name: "ops", Type: config.AlarmWebhook, URL: srv.URL, Secret: "s",
		ExpiringWithin: config.Duration(14 * 24 * time.Hour), FailedAttempts: 3, OfflineFor: config.Duration(time.Hour)}
	newHub := func() *Hub {
		// Same store and connection, fresh in-memory state.
		h := &Hub{cfg: th.cfg, log: th.log, store: th.store, nc: th.nc, drops: th.drops, fleet: th.fleet}
		h.cfg.Alarm = []config.AlarmConfig{ch}
		h.alarmChans = []alarmChannel{{cfg: ch, sender: &alarm.Webhook{URL: srv.URL, Secret: "s", Attempts: 1}}}
		return h
	}
	a, b := newHub(), newHub()

	now := time.Now().UTC()
	if err := th.store.PutAgent(ctx, hub.Agent{ID: "web1", Allow: []string{"www.example.test"}, Created: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	putCert := func(notAfter time.Time) {
		t.Helper()
		st := hub.AgentStatus{AgentID: "web1", LastSeen: time.Now().UTC(), Connected: true, Report: shared.StatusReport{
			Certificates: []shared.CertStatus{{Name: "web", Names: []string{"www.example.test"}, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter, LastResult: "ok"}}}}
		if err := th.store.PutStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
		th.awaitFleet(t, "the new certificate", func(s *fleet.Snapshot) bool {
			a := s.Get("web1")
			return a != nil && a.Status != nil && a.Status.Report.Certificates[0].NotAfter.Equal(notAfter)
		})
	}
	putCert(now.Add(5 * 24 * time.Hour))

	rounds := func(hubs ...*Hub) {
		var wg sync.WaitGroup
		for _, h := range hubs {
			wg.Add(1)
			go func() { defer wg.Done(); h.deliverAlarms(ctx) }()
		}
		wg.Wait()
	}
	rounds(a, b)
	rounds(a, b)
	rounds(newHub()) // a restarted hub
	ev := rcv.got()
	if len(ev) != 1 || ev[0].State != alarm.StateRaised || ev[0].Condition.Kind != alarm.KindExpiring ||
		ev[0].Condition.Agent != "web1" || ev[0].Condition.Cert != "web" {
		t.Fatalf("events after raising: %+v", ev)
	}

	putCert(now.Add(60 * 24 * time.Hour)) // renewed
	rounds(a, b)
	rounds(a, b)
	ev = rcv.got()
	if len(ev) != 2 || ev[1].State != alarm.StateResolved || ev[1].Condition.Key() != ev[0].Condition.Key() {
		t.Fatalf("events after clearing: %+v", ev)
	}

	// A receiver that fails loses nothing: the next round sends.
	rcv.setFailing(true)
	putCert(now.Add(2 * 24 * time.Hour))
	rounds(a)
	if n := len(rcv.got()); n != 2 {
		t.Fatalf("%d events while the receiver fails, want 2", n)
	}
	rcv.setFailing(false)
	rounds(a, b)
	ev = rcv.got()
	if len(ev) != 3 || ev[2].State != alarm.StateRaised {
		t.Fatalf("events after the receiver recovered: %+v", ev)
	}
	if rcv.badSig != 0 {
		t.Fatalf("%d events with a bad signature", rcv.badSig)
	}
	if !strings.Contains(th.logs.String(), "send alarm; will retry") {
		t.Error("failed send not logged")
	}
}
