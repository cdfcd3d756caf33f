package service

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/shared"
)

// TestStatusPages: the fleet view comes in pages that cover every agent
// once, each reply far below NATS's 1 MiB max payload however large the
// fleet, without PEM chains and with only the latest request per
// certificate.
func TestStatusPages(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	const agents = 450
	chain := "-----BEGIN CERTIFICATE-----\n" + string(make([]byte, 3000)) + "\n-----END CERTIFICATE-----\n"
	for i := range agents {
		id := fmt.Sprintf("agent%03d", i)
		if err := th.store.PutAgent(ctx, hub.Agent{ID: id, Allow: []string{id + ".example.test"}, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := th.store.PutCert(ctx, hub.CertRecord{AgentID: id, CertName: "web", RequestID: "req" + id, Names: []string{id + ".example.test"},
			Serial: "01", NotAfter: time.Now().Add(90 * 24 * time.Hour), Chain: chain, Issued: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if err := th.store.PutRequest(ctx, hub.RequestState{AgentID: id, RequestID: fmt.Sprintf("r%d%s", j, id), CertName: "web",
				State: "issued", Updated: time.Now().Add(time.Duration(j) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	th.awaitFleet(t, "every agent", func(s *fleet.Snapshot) bool {
		a := s.Get(fmt.Sprintf("agent%03d", agents-1))
		return s.Len() == agents && a != nil && len(a.Requests) == 1 && a.Requests[0].RequestID[:2] == "r2"
	})
	seen := map[string]bool{}
	after, pages := "", 0
	for {
		data, _ := json.Marshal(admin.StatusRequest{After: after})
		rep, err := th.adminStatus(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		r := rep.(admin.StatusReply)
		body, _ := json.Marshal(r)
		if len(body) > 512<<10 {
			t.Fatalf("page %d is %d bytes", pages, len(body))
		}
		pages++
		for _, a := range r.Agents {
			if seen[a.ID] {
				t.Fatalf("agent %s on two pages", a.ID)
			}
			seen[a.ID] = true
		}
		for _, c := range r.Certs {
			if c.Chain != "" {
				t.Fatal("a PEM chain in the fleet view")
			}
		}
		if len(r.Requests) != len(r.Agents) {
			t.Fatalf("%d requests for %d agents: want only the latest per certificate", len(r.Requests), len(r.Agents))
		}
		for _, q := range r.Requests {
			if q.RequestID[:2] != "r2" {
				t.Fatalf("request %s is not the latest", q.RequestID)
			}
		}
		if r.Next == "" {
			break
		}
		after = r.Next
	}
	if len(seen) != agents || pages != (agents+admin.DefaultStatusLimit-1)/admin.DefaultStatusLimit {
		t.Fatalf("%d agents in %d pages", len(seen), pages)
	}

	t.Run("glob", func(t *testing.T) {
		data, _ := json.Marshal(admin.StatusRequest{Agent: "agent01*"})
		rep, err := th.adminStatus(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.(admin.StatusReply); len(r.Agents) != 10 || r.Next != "" {
			t.Fatalf("agent01*: %d agents, next %q", len(r.Agents), r.Next)
		}
	})
	for _, bad := range []admin.StatusRequest{{Limit: admin.MaxStatusLimit + 1}, {Agent: "[x"}} {
		data, _ := json.Marshal(bad)
		if _, err := th.adminStatus(ctx, data); shared.CodeOf(err) != shared.CodeBadRequest {
			t.Errorf("%+v: %v, want bad_request", bad, err)
		}
	}
}
