package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/shared"
)

// fakeHub answers status, agent list and audit from fixed pages of two
// agents (or events) each, by cursor, and records the requests.
type fakeHub struct {
	ids    []string
	failAt string // a cursor whose page fails
	status []admin.StatusRequest
	lists  []admin.AgentListRequest
	audits []admin.AuditRequest
}

func (f *fakeHub) page(after string) ([]string, string) {
	start := 0
	for i, id := range f.ids {
		if id == after {
			start = i + 1
		}
	}
	end := min(start+2, len(f.ids))
	next := ""
	if end < len(f.ids) {
		next = f.ids[end-1]
	}
	return f.ids[start:end], next
}

func (f *fakeHub) Call(_ context.Context, verb string, req, reply any) error {
	b, _ := json.Marshal(req)
	var after string
	var out any
	switch verb {
	case admin.VerbStatus:
		var r admin.StatusRequest
		_ = json.Unmarshal(b, &r)
		f.status = append(f.status, r)
		after = r.After
		ids, next := f.page(r.After)
		rep := admin.StatusReply{Now: time.Now(), Next: next}
		for _, id := range ids {
			rep.Agents = append(rep.Agents, hub.Agent{ID: id})
			rep.Alerts = append(rep.Alerts, admin.Alert{Kind: "never_seen", Agent: id, Message: "never connected"})
		}
		out = rep
	case admin.VerbAgentList:
		var r admin.AgentListRequest
		_ = json.Unmarshal(b, &r)
		f.lists = append(f.lists, r)
		after = r.After
		ids, next := f.page(r.After)
		rep := admin.AgentList{Next: next}
		for _, id := range ids {
			rep.Agents = append(rep.Agents, hub.Agent{ID: id})
		}
		out = rep
	case admin.VerbAudit:
		var r admin.AuditRequest
		_ = json.Unmarshal(b, &r)
		f.audits = append(f.audits, r)
		after = r.After
		ids, next := f.page(r.After)
		rep := admin.AuditReply{Next: next}
		for _, id := range ids {
			ev, _ := json.Marshal(map[string]any{"time": time.Now(), "kind": "enrolled", "agent": id})
			rep.Events = append(rep.Events, ev)
		}
		out = rep
	default:
		return fmt.Errorf("unexpected verb %s", verb)
	}
	if f.failAt != "" && after == f.failAt {
		return shared.Errorf(shared.CodeInternal, "the store is down")
	}
	b, _ = json.Marshal(out)
	return json.Unmarshal(b, reply)
}

// run runs the CLI against f and returns standard output and error.
func (f *fakeHub) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{out: &out, errOut: &errOut, dial: func() (adminCaller, func(), error) { return f, func() {}, nil }}
	root := newRoot(g, nil)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestStatusPaging(t *testing.T) {
	ids := []string{"a1", "a2", "a3", "a4", "a5"}
	t.Run("one page points at the next", func(t *testing.T) {
		f := &fakeHub{ids: ids}
		out, errOut, err := f.run(t, "status", "--limit", "2")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "a2") || strings.Contains(out, "a3") || !strings.Contains(errOut, "more agents follow: add --after a2") {
			t.Fatalf("out:\n%s\nerr:\n%s", out, errOut)
		}
		if len(f.status) != 1 || f.status[0].Limit != 2 {
			t.Fatalf("requests %+v", f.status)
		}
	})
	t.Run("--all follows every page, filters on each", func(t *testing.T) {
		f := &fakeHub{ids: ids}
		out, errOut, err := f.run(t, "status", "--all", "--agent", "a*", "--state", "failed,never", "--expiring", "14d")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "AGENT") != 1 || strings.Count(out, "never connected") != 5 || errOut != "" {
			t.Fatalf("out:\n%s\nerr:\n%s", out, errOut)
		}
		for _, id := range ids {
			if !strings.Contains(out, id+"  ") {
				t.Fatalf("%s missing:\n%s", id, out)
			}
		}
		var cursors []string
		for _, r := range f.status {
			cursors = append(cursors, r.After)
			if r.Agent != "a*" || strings.Join(r.State, ",") != "failed,never" || r.Expiring != 14*24*time.Hour {
				t.Fatalf("request %+v", r)
			}
		}
		if strings.Join(cursors, ",") != ",a2,a4" {
			t.Fatalf("cursors %v", cursors)
		}
	})
	t.Run("--all --json prints one page per line", func(t *testing.T) {
		f := &fakeHub{ids: ids}
		out, _, err := f.run(t, "status", "--all", "--json")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines:\n%s", len(lines), out)
		}
		for _, l := range lines {
			var r admin.StatusReply
			if err := json.Unmarshal([]byte(l), &r); err != nil || len(r.Agents) == 0 {
				t.Fatalf("line %q: %v", l, err)
			}
		}
	})
	t.Run("a failed page is an error after the pages before it", func(t *testing.T) {
		f := &fakeHub{ids: ids, failAt: "a2"}
		out, _, err := f.run(t, "status", "--all")
		if shared.CodeOf(err) != shared.CodeInternal || !strings.Contains(out, "a1") || strings.Contains(out, "a3") {
			t.Fatalf("err %v, out:\n%s", err, out)
		}
	})
	t.Run("nothing matches", func(t *testing.T) {
		f := &fakeHub{}
		_, errOut, err := f.run(t, "status", "--state", "failed")
		if err != nil || !strings.Contains(errOut, "no agent matches") {
			t.Fatalf("err %v, stderr %q", err, errOut)
		}
	})
	t.Run("bad --expiring", func(t *testing.T) {
		f := &fakeHub{}
		if _, _, err := f.run(t, "status", "--expiring", "soon"); err == nil || len(f.status) != 0 {
			t.Fatalf("err %v after %d requests", err, len(f.status))
		}
	})
}

func TestAgentListAndAuditPaging(t *testing.T) {
	ids := []string{"a1", "a2", "a3"}
	f := &fakeHub{ids: ids}
	out, _, err := f.run(t, "agent", "list", "--all", "--limit", "2", "--agent", "a*")
	if err != nil || strings.Count(out, "AGENT") != 1 || !strings.Contains(out, "a3") {
		t.Fatalf("agent list: %v\n%s", err, out)
	}
	if len(f.lists) != 2 || f.lists[1].After != "a2" || f.lists[0].Agent != "a*" || f.lists[0].Limit != 2 {
		t.Fatalf("agent list requests %+v", f.lists)
	}

	f = &fakeHub{ids: ids}
	out, _, err = f.run(t, "audit", "--all", "--since", "7d")
	if err != nil || strings.Count(out, "enrolled") != 3 {
		t.Fatalf("audit --all: %v\n%s", err, out)
	}
	if len(f.audits) != 2 || f.audits[0].After != "0" || f.audits[1].After != "a2" || time.Since(f.audits[0].Since) < 7*24*time.Hour-time.Minute {
		t.Fatalf("audit requests %+v", f.audits)
	}

	// Without --all or --after: the newest events, one reply.
	f = &fakeHub{ids: ids}
	if _, _, err := f.run(t, "audit"); err != nil || len(f.audits) != 1 || f.audits[0].After != "" {
		t.Fatalf("audit: %v, %+v", err, f.audits)
	}
}

func TestParseDayDuration(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"14d", 14 * day, true},
		{"1d12h", day + 12*time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"-5h", 0, false},
		{"1d-5h", 0, false},
		{"2w", 0, false},
		{"14 d", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDayDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseDayDuration(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}
