package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestCertState(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	base := Cert{NotBefore: now.Add(-30 * day), NotAfter: now.Add(60 * day), RenewAt: now.Add(30 * day), LastResult: "ok"}
	cases := []struct {
		name string
		mod  func(*Cert)
		want string
	}{
		{"valid", nil, StateValid},
		{"renew due", func(c *Cert) { c.RenewAt = now.Add(-time.Hour) }, StateRenewDue},
		{"expiring: under a sixth of the lifetime left", func(c *Cert) { c.NotAfter = now.Add(5 * day) }, StateExpiring},
		{"failing wins over expiring", func(c *Cert) { c.NotAfter, c.LastResult = now.Add(10*day), "failed" }, StateFailing},
		{"expired wins over all", func(c *Cert) { c.NotAfter, c.LastResult = now.Add(-time.Second), "failed" }, StateExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			if tc.mod != nil {
				tc.mod(&c)
			}
			if got := c.State(now); got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
		})
	}
}

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func value(f *dto.MetricFamily, label, val string) float64 {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == val {
				if m.Gauge != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// TestCollectorCachesAndReportsFailure: one snapshot serves scrapes within
// cacheFor, and a store failure shows as fleet_snapshot_ok 0 with no
// stale fleet gauges.
func TestCollectorCachesAndReportsFailure(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	calls := 0
	var fail error
	m := New(func(context.Context) (Fleet, error) {
		calls++
		return Fleet{AgentsRegistered: 2, AgentsOnline: 1, QueueDepth: 3, Dropped: map[string]uint64{"rate_limited": 4},
			Issuance:  &Issuance{Limit: 12, InFlight: 7, Drops: 2, HeldUntil: now.Add(30 * time.Second), Waiting: 40},
			Unmanaged: []time.Time{now.Add(-time.Hour), now.Add(24 * time.Hour), now.Add(13 * 24 * time.Hour), now.Add(60 * 24 * time.Hour)},
			Certs:     []Cert{{Agent: "a", Name: "web", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour)}}}, fail
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := now
	m.fleet.now = func() time.Time { return clock }
	m.ObserveOrder("le", "issued", 3*time.Second)

	fams := gather(t, m)
	if v := value(fams["certfleet_certificates"], "state", StateValid); v != 1 {
		t.Errorf("valid certificates %v, want 1", v)
	}
	if v := value(fams["certfleet_certificates"], "state", StateExpired); v != 0 {
		t.Errorf("expired certificates %v, want 0 (exported as zero)", v)
	}
	if v := value(fams["certfleet_certificate_expiry_seconds"], "agent", "a"); v != 90*24*3600 {
		t.Errorf("expiry seconds %v", v)
	}
	for state, want := range map[string]float64{UnmanagedExpired: 1, UnmanagedExpiring: 2, UnmanagedValid: 1} {
		if v := value(fams["certfleet_unmanaged_certificates"], "state", state); v != want {
			t.Errorf("unmanaged certificates %s: %v, want %v", state, v, want)
		}
	}
	for name, want := range map[string]float64{"certfleet_issuance_concurrency_limit": 12, "certfleet_issuance_orders_in_flight": 7,
		"certfleet_issuance_concurrency_cuts_total": 2, "certfleet_issuance_held_seconds": 30, "certfleet_issuance_waiting": 40} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Errorf("%s missing", name)
			continue
		}
		m := f.GetMetric()[0]
		if got := m.GetGauge().GetValue() + m.GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if v := value(fams["certfleet_orders_total"], "result", "issued"); v != 1 {
		t.Errorf("orders %v", v)
	}
	if v := value(fams["certfleet_agent_messages_dropped_total"], "reason", "rate_limited"); v != 4 {
		t.Errorf("dropped %v", v)
	}
	gather(t, m)
	if calls != 1 {
		t.Fatalf("%d snapshots for two scrapes within %v, want 1", calls, cacheFor)
	}
	clock = clock.Add(cacheFor + time.Second)
	fail = errors.New("jetstream down")
	fams = gather(t, m)
	if calls != 2 {
		t.Fatalf("%d snapshots after the cache expired, want 2", calls)
	}
	if f := fams["certfleet_fleet_snapshot_ok"]; f.GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Error("snapshot failure not reported")
	}
	if _, ok := fams["certfleet_certificates"]; ok {
		t.Error("fleet gauges exported from a failed snapshot")
	}
}

func TestInstrumentACMEDNS(t *testing.T) {
	m := New(func(context.Context) (Fleet, error) { return Fleet{}, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := m.InstrumentACMEDNS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/update" && r.Header.Get("X-Api-User") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	for _, req := range []*http.Request{
		httptest.NewRequest("POST", "/update", nil),
		httptest.NewRequest("POST", "/register", nil),
		httptest.NewRequest("GET", "/wp-login.php", nil),
		httptest.NewRequest("BREW", "/health", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	f := gather(t, m)["certfleet_acmedns_requests_total"]
	got := map[string]float64{}
	for _, s := range f.GetMetric() {
		key := ""
		for _, l := range s.GetLabel() {
			key += l.GetValue() + " "
		}
		got[key] = s.GetCounter().GetValue()
	}
	want := map[string]float64{"401 /update POST ": 1, "200 /register POST ": 1, "200 other GET ": 1, "200 /health other ": 1}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
