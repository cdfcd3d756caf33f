package service

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// TestAdminListingsReportDamaged: with garbage and foreign JSON written
// straight into the KV buckets and the audit stream, status, agent list
// and audit still answer over NATS with every good entry, plus each bad
// one under "damaged" with its key.
func TestAdminListingsReportDamaged(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	if err := th.subscribeAdmin(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, id := range []string{"web1", "web2"} {
		if err := th.store.PutAgent(ctx, hub.Agent{ID: id, Allow: []string{"www.example.org"}, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	th.audit(ctx, store.AuditEvent{Kind: store.AuditRequested, Agent: "web1", Detail: "good"})
	put := func(bucket, key, val string) {
		t.Helper()
		kv, err := th.js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, key, []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	put(store.BucketAgents, "mangled", "\x1b[31m{not json")
	put(store.BucketAgents, "alien", `{"totally":"different"}`)
	put(store.BucketStatus, "web1", `{"agent_id":"web2"}`)
	if _, err := th.js.Publish(ctx, shared.SubjectAudit+".refused", []byte("garbage")); err != nil {
		t.Fatal(err)
	}

	th.awaitFleet(t, "the agents and the damaged entries", func(s *fleet.Snapshot) bool { return s.Len() == 2 && len(s.Damaged()) == 3 })

	cl := &admin.Client{NC: th.nc, Timeout: 10 * time.Second}
	keys := func(bad []hub.Damaged) string {
		var k []string
		for _, d := range bad {
			k = append(k, d.Store+"/"+d.Key)
		}
		return strings.Join(k, ",")
	}

	var agents admin.AgentList
	if err := cl.Call(ctx, admin.VerbAgentList, struct{}{}, &agents); err != nil {
		t.Fatal(err)
	}
	if len(agents.Agents) != 2 || keys(agents.Damaged) != "certfleet_agents/alien,certfleet_agents/mangled" {
		t.Fatalf("agent list = %+v", agents)
	}

	var st admin.StatusReply
	if err := cl.Call(ctx, admin.VerbStatus, struct{}{}, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Agents) != 2 || keys(st.Damaged) != "certfleet_agents/alien,certfleet_agents/mangled,certfleet_status/web1" {
		t.Fatalf("status = %+v", st)
	}

	var au admin.AuditReply
	if err := cl.Call(ctx, admin.VerbAudit, admin.AuditRequest{}, &au); err != nil {
		t.Fatal(err)
	}
	if len(au.Events) != 1 || keys(au.Damaged) != shared.StreamAudit+"/2" {
		t.Fatalf("audit = %+v", au)
	}
	var ev store.AuditEvent
	if err := json.Unmarshal(au.Events[0], &ev); err != nil || ev.Detail != "good" {
		t.Fatalf("audit event = %+v, %v", ev, err)
	}
}
