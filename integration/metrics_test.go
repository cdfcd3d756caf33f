package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certfleet/certfleet/integration/fleet"
)

// scrape reads the hub's /metrics as Prometheus would.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metricValue returns the value of the series of family name whose labels
// include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// dashboardShows reports the metric names the Grafana dashboard's queries
// mention.
func dashboardShows(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../packaging/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					for _, n := range metricName.FindAllString(s, -1) {
						names[n] = true
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	return names
}

var metricName = regexp.MustCompile(`certfleet_[a-zA-Z0-9_:]*`)

// TestMetricsAfterIssuance scrapes a running hub's /metrics before and
// after an agent gets a certificate, and checks that every certfleet
// family it then exports is on the Grafana dashboard.
func TestMetricsAfterIssuance(t *testing.T) {
	env := newEnv(t, "[metrics]\nlisten = \"127.0.0.1:0\"\n"+acmednsPlain)
	c := ctx(t)
	url := env.HubRun().Metrics
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("run file metrics URL %q", url)
	}
	fams, err := scrape(c, url)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := metricValue(fams, "certfleet_certificates", map[string]string{"state": "valid"}); !ok || v != 0 {
		t.Fatalf("empty fleet: valid certificates %v (present %v), want 0", v, ok)
	}
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	leaf, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	err = fleet.Await(c, 30*time.Second, func() (bool, error) {
		if fams, err = scrape(c, url); err != nil {
			return false, err
		}
		v, ok := metricValue(fams, "certfleet_certificates", map[string]string{"state": "valid"})
		return ok && v == 1, nil
	})
	if err != nil {
		t.Fatalf("certificate never counted as valid: %v", err)
	}
	left, ok := metricValue(fams, "certfleet_certificate_expiry_seconds", map[string]string{"agent": "web1", "cert": "web"})
	if want := time.Until(leaf.NotAfter).Seconds(); !ok || left < want-60 || left > want+60 {
		t.Errorf("expiry seconds %v (present %v), want about %v", left, ok, want)
	}
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"certfleet_orders_total", map[string]string{"ca": "pebble", "result": "issued"}, 1},
		{"certfleet_order_duration_seconds", map[string]string{"ca": "pebble", "result": "issued"}, 1},
		{"certfleet_dns_queries_total", map[string]string{"type": "TXT"}, 1},
		{"certfleet_dns_responses_total", map[string]string{"rcode": "NOERROR"}, 1},
		{"certfleet_agents", nil, 1},
		{"certfleet_agents_connected", nil, 1},
		{"certfleet_fleet_snapshot_ok", nil, 1},
	}
	for _, ch := range checks {
		if v, ok := metricValue(fams, ch.name, ch.labels); !ok || v < ch.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", ch.name, ch.labels, v, ok, ch.min)
		}
	}
	if _, ok := metricValue(fams, "certfleet_queue_depth", nil); !ok {
		t.Error("certfleet_queue_depth missing")
	}

	// hub/metrics TestDashboardMatchesHub checks the dashboard against the
	// registry it builds; this catches a family the running hub registers
	// beyond that (such as the acme-dns API's, registered when it starts).
	resp, err := http.Get(apiBase(t, env) + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if fams, err = scrape(c, url); err != nil {
		t.Fatal(err)
	}
	if _, ok := fams["certfleet_acmedns_requests_total"]; !ok {
		t.Error("certfleet_acmedns_requests_total missing after an acme-dns API request")
	}
	shown := dashboardShows(t)
	for name, f := range fams {
		if !strings.HasPrefix(name, "certfleet_") {
			continue // Go and process metrics: not on the dashboard (see hub/metrics notOnDashboard)
		}
		if !shown[name] && !(f.GetType() == dto.MetricType_HISTOGRAM && shown[name+"_bucket"]) {
			t.Errorf("the running hub exports %s, which no dashboard panel shows", name)
		}
	}
	t.Logf("orders: %v", fams["certfleet_orders_total"].GetMetric())
}
