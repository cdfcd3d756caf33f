package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/internal/natstest"
	"github.com/certfleet/certfleet/shared"
)

// startJetStream runs an embedded JetStream server on a loopback port
// until the test ends.
func startJetStream(tb testing.TB) *server.Server {
	tb.Helper()
	srv := natstest.JetStream(tb)
	return srv
}

// openStore opens the store over a connection of its own, as each hub
// has.
func openStore(tb testing.TB, srv *server.Server) (*store.Store, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(testCtx(tb), js, store.Options{Timeout: 2 * time.Second, AckWait: time.Second})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return st, js
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// await waits until cond holds on s.
func await(tb testing.TB, s *Snapshot, what string, cond func(s *Snapshot) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Await(ctx, cond); err != nil {
		tb.Fatalf("snapshot never showed %s: %v", what, err)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// TestFeedFollowsAnotherHub: a snapshot fed from one connection follows
// every put and delete another store client (a second hub) makes, starts
// with what was stored before it opened, drops PEM chains, keeps the
// latest request per certificate, and lists damaged entries until they
// are mended.
func TestFeedFollowsAnotherHub(t *testing.T) {
	srv := startJetStream(t)
	other, js := openStore(t, srv)
	mine, _ := openStore(t, srv)
	ctx := testCtx(t)
	now := time.Now().UTC().Truncate(time.Second)

	// Stored before the feed opens: replayed by Open.
	must(t, other.PutAgent(ctx, hub.Agent{ID: "early", Allow: []string{"early.example.org"}, Created: now}))
	feed, err := Open(ctx, mine)
	must(t, err)
	defer feed.Close()
	s := feed.Snapshot()
	if a := s.Get("early"); a == nil || a.Record.Allow[0] != "early.example.org" || s.Len() != 1 {
		t.Fatalf("after Open: %+v, %d agents", a, s.Len())
	}

	must(t, other.PutAgent(ctx, hub.Agent{ID: "web1", Allow: []string{"www.example.org"}, Created: now}))
	must(t, other.PutStatus(ctx, hub.AgentStatus{AgentID: "web1", LastSeen: now, Connected: true,
		Report: shared.StatusReport{AgentVersion: "1.2.3", Certificates: []shared.CertStatus{{Name: "web", NotAfter: now.Add(time.Hour)}}}}))
	must(t, other.PutCert(ctx, hub.CertRecord{AgentID: "web1", CertName: "web", Serial: "0a", Chain: "-----BEGIN CERTIFICATE-----\n...", NotAfter: now.Add(90 * 24 * time.Hour)}))
	must(t, other.PutRequest(ctx, hub.RequestState{AgentID: "web1", RequestID: "request1", CertName: "web", State: hub.RequestIssued, Updated: now.Add(-time.Minute)}))
	must(t, other.PutRequest(ctx, hub.RequestState{AgentID: "web1", RequestID: "request2", CertName: "web", State: hub.RequestRetrying, Updated: now}))
	await(t, s, "web1 whole", func(s *Snapshot) bool {
		a := s.Get("web1")
		return a != nil && a.Status != nil && len(a.Certs) == 1 && len(a.Requests) == 1 && a.Requests[0].RequestID == "request2"
	})
	a := s.Get("web1")
	if a.Certs[0].Chain != "" || a.Certs[0].Serial != "0a" || a.Status.Report.AgentVersion != "1.2.3" {
		t.Fatalf("web1 = %+v", a)
	}
	if got := s.Page(Query{Limit: 10}); len(got.Agents) != 2 || got.Agents[0].ID() != "early" || got.Agents[1].ID() != "web1" {
		t.Fatalf("page = %+v", got)
	}

	// A handed-out view never changes: the next status makes a new one.
	must(t, other.PutStatus(ctx, hub.AgentStatus{AgentID: "web1", LastSeen: now.Add(time.Second), Report: shared.StatusReport{AgentVersion: "1.2.4"}}))
	await(t, s, "the new status", func(s *Snapshot) bool { return s.Get("web1").Status.Report.AgentVersion == "1.2.4" })
	if a.Status.Report.AgentVersion != "1.2.3" {
		t.Fatal("a view handed out earlier changed")
	}

	// Deletes: the latest request goes back to the one before; the cert,
	// the status, then the agent go.
	kv, err := js.KeyValue(ctx, store.BucketRequests)
	must(t, err)
	must(t, kv.Delete(ctx, "web1.request2"))
	await(t, s, "request1 as the latest request", func(s *Snapshot) bool {
		r := s.Get("web1").Requests
		return len(r) == 1 && r[0].RequestID == "request1"
	})
	must(t, other.DeleteCert(ctx, "web1", "web"))
	must(t, other.DeleteStatus(ctx, "web1"))
	await(t, s, "web1 without cert and status", func(s *Snapshot) bool { a := s.Get("web1"); return len(a.Certs) == 0 && a.Status == nil })
	must(t, other.DeleteAgent(ctx, "web1"))
	await(t, s, "web1 gone", func(s *Snapshot) bool { return s.Get("web1") == nil && s.Len() == 1 })
	if got := s.Page(Query{Limit: 10}); len(got.Agents) != 1 || got.Agents[0].ID() != "early" {
		t.Fatalf("page after the delete = %+v", got)
	}

	// Damaged entries are listed, not fatal, and go when mended.
	kv, err = js.KeyValue(ctx, store.BucketAgents)
	must(t, err)
	_, err = kv.Put(ctx, "mangled", []byte("{not json"))
	must(t, err)
	_, err = kv.Put(ctx, "early", []byte(`{"id":"someone-else"}`))
	must(t, err)
	await(t, s, "two damaged agents", func(s *Snapshot) bool { return len(s.Damaged(store.BucketAgents)) == 2 })
	if d := s.Damaged(); d[0].Key != "early" || !strings.Contains(d[0].Error, "foreign") || d[1].Key != "mangled" {
		t.Fatalf("damaged = %+v", d)
	}
	if s.Get("early") != nil {
		t.Fatal("an agent whose entry turned foreign is still listed")
	}
	must(t, other.PutAgent(ctx, hub.Agent{ID: "early", Created: now}))
	must(t, kv.Delete(ctx, "mangled"))
	await(t, s, "the damage mended", func(s *Snapshot) bool { return len(s.Damaged()) == 0 && s.Get("early") != nil })
}

// TestFeedRunStopsOnCancel: Run returns nil when its context ends, and
// the watches stop.
func TestFeedRunStopsOnCancel(t *testing.T) {
	srv := startJetStream(t)
	st, _ := openStore(t, srv)
	feed, err := Open(testCtx(t), st)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, w := range feed.watches {
		select {
		case <-w.Done():
		default:
			t.Fatal("a watch still runs")
		}
	}
}
