package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/dnsserver"
)

// The Grafana dashboard and the alert rules in packaging/monitoring name
// the hub's metrics in PromQL strings that no compiler sees. These tests
// tie them to the registry the hub serves: every name they use exists
// (with the labels and label values they match on), every family the hub
// exports is on the dashboard, and both files are well formed.

const monitoringDir = "../../packaging/monitoring"

// notOnDashboard are the families the hub exports that the dashboard
// leaves out on purpose, by name prefix.
var notOnDashboard = []string{
	// Go runtime and process metrics (collectors.NewGoCollector and
	// NewProcessCollector): generic, shown by any Go process dashboard.
	"go_",
	"process_",
}

// targetLabels are added by Prometheus to every series it scrapes.
var targetLabels = map[string]bool{"instance": true, "job": true}

// prometheusSeries are series Prometheus itself writes for every target.
var prometheusSeries = map[string]bool{"up": true}

// exportedFamily is one metric family as the hub's registry serves it.
type exportedFamily struct {
	typ dto.MetricType
	// labels maps each label name to the values seen.
	labels map[string]map[string]bool
}

// descName reads the metric name from a Desc: client_golang has no
// accessor, but its String is stable ("Desc{fqName: \"...\", ...").
var descName = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*")`)

// hubFamilies returns the families of the hub's registry, as New and
// InstrumentACMEDNS (the hub's only registrations) make it, with a fleet
// that has something in every gauge. It fails when the registry
// describes a family this fleet does not make it export, or exports one
// it does not describe: a new metric must be given data here.
func hubFamilies(t *testing.T) map[string]exportedFamily {
	t.Helper()
	now := time.Now()
	day := 24 * time.Hour
	requests := map[string]int{}
	for _, s := range []string{hub.RequestQueued, hub.RequestWaiting, hub.RequestOrdering, hub.RequestRetrying, hub.RequestIssued, hub.RequestFailed} {
		requests[s] = 1
	}
	m := New(func(context.Context) (Fleet, error) {
		return Fleet{
			Certs:            []Cert{{Agent: "web1", Name: "www", NotBefore: now.Add(-day), NotAfter: now.Add(60 * day), RenewAt: now.Add(30 * day)}},
			AgentsRegistered: 1, AgentsOnline: 1, QueueDepth: 1, Requests: requests,
			Dropped:   map[string]uint64{"rate_limited": 1},
			DNS:       &dnsserver.Stats{Queries: 1},
			Unmanaged: []time.Time{now.Add(day)},
			Issuance:  &Issuance{Limit: 4, InFlight: 1, Drops: 1, HeldUntil: now.Add(time.Minute), Waiting: 1},
		}, nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.ObserveOrder("letsencrypt", "issued", 5*time.Second)
	m.ObserveOrder("letsencrypt", "rate_limited", time.Second)
	acmedns := m.InstrumentACMEDNS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/update":
			w.WriteHeader(http.StatusUnauthorized)
		case "/register":
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	for _, r := range []*http.Request{httptest.NewRequest("GET", "/health", nil), httptest.NewRequest("POST", "/update", nil),
		httptest.NewRequest("POST", "/register", nil)} {
		acmedns.ServeHTTP(httptest.NewRecorder(), r)
	}

	described := map[string]bool{}
	ch := make(chan *prometheus.Desc)
	go func() { m.reg.Describe(ch); close(ch) }()
	for d := range ch {
		sm := descName.FindStringSubmatch(d.String())
		if sm == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		name, err := strconv.Unquote(sm[1])
		if err != nil {
			t.Fatalf("name of %s: %v", d, err)
		}
		described[name] = true
	}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]exportedFamily{}
	for _, f := range fams {
		ef := exportedFamily{typ: f.GetType(), labels: map[string]map[string]bool{}}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if ef.labels[l.GetName()] == nil {
					ef.labels[l.GetName()] = map[string]bool{}
				}
				ef.labels[l.GetName()][l.GetValue()] = true
			}
		}
		if ef.typ == dto.MetricType_HISTOGRAM {
			ef.labels["le"] = map[string]bool{}
		}
		out[f.GetName()] = ef
		if strings.HasPrefix(f.GetName(), namespace+"_") && !described[f.GetName()] {
			t.Errorf("%s is exported but its collector does not describe it", f.GetName())
		}
	}
	for name := range described {
		if _, ok := out[name]; !ok && strings.HasPrefix(name, namespace+"_") {
			t.Errorf("%s is registered but this test's fleet does not make the hub export it: give hubFamilies data for it", name)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d families gathered", len(out))
	}
	return out
}

// lookup finds the family a series name belongs to: itself, or the
// histogram or summary whose _bucket, _sum or _count series it is.
func lookup(fams map[string]exportedFamily, name string) (exportedFamily, string, bool) {
	if f, ok := fams[name]; ok {
		return f, name, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		f, ok := fams[base]
		if ok && (f.typ == dto.MetricType_HISTOGRAM || (f.typ == dto.MetricType_SUMMARY && suf != "_bucket")) {
			return f, base, true
		}
	}
	return exportedFamily{}, "", false
}

// checkExpr checks one PromQL expression against the hub's families and
// returns the families it uses and the labels its results may carry.
// labelRefs are the labels its legend or annotations name.
func checkExpr(t *testing.T, fams map[string]exportedFamily, where, expr string, labelRefs []string) []string {
	t.Helper()
	refs, err := parsePromQL(expr)
	if err != nil {
		t.Errorf("%s: cannot read %q: %v", where, expr, err)
		return nil
	}
	if len(refs.names()) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	var used []string
	avail := map[string]bool{}
	for l := range targetLabels {
		avail[l] = true
	}
	for _, sel := range refs.selectors {
		if prometheusSeries[sel.name] {
			continue
		}
		f, family, ok := lookup(fams, sel.name)
		if !ok {
			t.Errorf("%s: %q uses %s, which the hub does not export", where, expr, sel.name)
			continue
		}
		used = append(used, family)
		for l := range f.labels {
			avail[l] = true
		}
		for _, m := range sel.matchers {
			if m.label == "__name__" || targetLabels[m.label] {
				continue
			}
			values, ok := f.labels[m.label]
			if !ok {
				t.Errorf("%s: %q matches label %q, which %s does not have", where, expr, m.label, family)
				continue
			}
			if !matchesAny(t, m, values) {
				t.Errorf("%s: %q: %s%s%q matches none of the values the hub exports (%v)", where, expr, m.label, m.op, m.value, slices.Sorted(mapKeys(values)))
			}
		}
	}
	for _, l := range append(slices.Clone(refs.grouping), labelRefs...) {
		if !avail[l] {
			t.Errorf("%s: %q: label %q is on none of the series it selects", where, expr, l)
		}
	}
	return used
}

// matchesAny reports whether the matcher's value is among (or, for a
// regular expression, matches one of) the values the hub exports, so a
// misspelt value (which matches nothing, or everything with !=) fails.
func matchesAny(t *testing.T, m promMatcher, values map[string]bool) bool {
	if m.op == "=" || m.op == "!=" {
		return values[m.value]
	}
	re, err := regexp.Compile("^(?:" + m.value + ")$")
	if err != nil {
		t.Errorf("matcher %s%s%q: %v", m.label, m.op, m.value, err)
		return true
	}
	for v := range values {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// grafanaPanel is what the test reads of a dashboard panel.
type grafanaPanel struct {
	ID         int    `json:"id"`
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	// Panels are a collapsed row's panels.
	Panels []grafanaPanel `json:"panels"`
}

type grafanaDashboard struct {
	Title  string         `json:"title"`
	UID    string         `json:"uid"`
	Panels []grafanaPanel `json:"panels"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

// allPanels flattens the rows.
func allPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

func TestDashboardWellFormed(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q: both needed for import", d.Title, d.UID)
	}
	ids := map[int]string{}
	var placed []grafanaPanel
	for _, p := range allPanels(d.Panels) {
		if p.ID <= 0 {
			t.Errorf("panel %q has id %d", p.Title, p.ID)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, q := range placed {
			h := q.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", q.Title, p.Title)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the dashboard's ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: query %s has no expression", p.Title, q.RefID)
			}
		}
	}
}

// TestDashboardMatchesHub: every name, label and label value the
// dashboard's queries use is one the hub exports, and every family the
// hub exports is on the dashboard (or in notOnDashboard).
func TestDashboardMatchesHub(t *testing.T) {
	fams := hubFamilies(t)
	shown := map[string]bool{}
	for _, p := range allPanels(readDashboard(t).Panels) {
		for _, q := range p.Targets {
			var labels []string
			for _, m := range legendLabel.FindAllStringSubmatch(q.LegendFormat, -1) {
				labels = append(labels, m[1])
			}
			for _, f := range checkExpr(t, fams, "panel "+strconv.Quote(p.Title), q.Expr, labels) {
				shown[f] = true
			}
		}
	}
	for name := range fams {
		if !shown[name] && !slices.ContainsFunc(notOnDashboard, func(p string) bool { return strings.HasPrefix(name, p) }) {
			t.Errorf("the hub exports %s but no dashboard panel shows it (add a panel, or add it to notOnDashboard with the reason)", name)
		}
	}
}

// alertRules is the rule file's layout; unknown keys fail the decoding,
// so a misspelt "anotations" does not pass as no annotations.
type alertRules struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

const (
	alertsFile     = "certfleet-alerts.yml"
	alertsTestFile = "certfleet-alerts.test.yml" // promtool test rules
)

func readAlerts(t *testing.T) alertRules {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var r alertRules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return r
}

var annotationLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// TestAlertRules: the rule file parses, each rule is a complete alert on
// metrics the hub exports (or Prometheus's own up), and, when promtool is
// installed (.ci/run installs it), promtool accepts the file and its unit
// tests pass.
func TestAlertRules(t *testing.T) {
	fams := hubFamilies(t)
	r := readAlerts(t)
	if len(r.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range r.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a name and rules needed", g.Name)
		}
		for i, rule := range g.Rules {
			where := g.Name + " rule " + strconv.Itoa(i)
			if rule.Alert == "" || rule.Record != "" {
				t.Errorf("%s: not an alert (alert %q, record %q): the file holds alerts only", where, rule.Alert, rule.Record)
				continue
			}
			where = "alert " + rule.Alert
			if seen[rule.Alert] {
				t.Errorf("%s: defined twice", where)
			}
			seen[rule.Alert] = true
			// "for" may be left out: an alert on something already
			// broken (an expired certificate) fires at once.
			if rule.For != "" {
				if _, err := model.ParseDuration(rule.For); err != nil {
					t.Errorf("%s: for %q: %v", where, rule.For, err)
				}
			}
			if s := rule.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			if strings.TrimSpace(rule.Annotations["summary"]) == "" {
				t.Errorf("%s: no summary annotation", where)
			}
			var labels []string
			for _, a := range rule.Annotations {
				for _, m := range annotationLabel.FindAllStringSubmatch(a, -1) {
					labels = append(labels, m[1])
				}
			}
			checkExpr(t, fams, where, rule.Expr, labels)
		}
	}
	// promtool parses the PromQL and templates for real, and runs the
	// rules' unit tests (when they fire, when not yet, their text).
	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool not installed (apt-get install prometheus)")
		}
		for _, args := range [][]string{{"check", "rules", alertsFile}, {"test", "rules", alertsTestFile}} {
			cmd := exec.Command(promtool, args...)
			cmd.Dir = monitoringDir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
}
