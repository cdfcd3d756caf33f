package integration

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// The trust boundary, tried as a hostile enrolled host would: a raw
// nats.go client holding a real agent's credentials. Each test is one
// finding of the black-box test of baedd1d (issue "Trust boundary").

// storeState fingerprints everything the hub stores: the last sequence of
// every stream (KV buckets are streams). Any write changes it.
func storeState(t *testing.T, env *fleet.Env) map[string]uint64 {
	t.Helper()
	c := ctx(t)
	js, err := jetstream.New(asHub(t, env))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	names := js.StreamNames(c)
	for name := range names.Name() {
		st, err := js.Stream(c, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(c)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = info.State.LastSeq
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileBodies are well-formed messages for each up verb, so that only
// the reply subject makes them hostile.
func hostileBodies(t *testing.T, agent string) map[string][]byte {
	t.Helper()
	csr := testCSR(t, agent+".example.test")
	return map[string][]byte{
		shared.VerbHello:   shared.MustEncode(&shared.Hello{AgentVersion: "evil", Protocol: shared.ProtocolVersion}),
		shared.VerbCertReq: shared.MustEncode(&shared.CertRequest{RequestID: shared.NewRequestID(), CertName: "web", CSR: csr, Created: time.Now()}),
		shared.VerbFetch:   shared.MustEncode(&shared.FetchRequest{RequestID: "abcdefgh12"}),
		shared.VerbStatus:  shared.MustEncode(&shared.StatusReport{Hostname: "evil", Certificates: []shared.CertStatus{}}),
		shared.VerbAck:     shared.MustEncode(&shared.Ack{}),
	}
}

func testCSR(t *testing.T, names ...string) string {
	t.Helper()
	csr, err := newCSR(names...)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// newCSR makes a fresh P-256 key and a CSR for names, as an agent does.
func newCSR(names ...string) (string, error) {
	k, err := keys.Generate(keytype.EC256)
	if err != nil {
		return "", err
	}
	csr, err := keys.CSR(k, names)
	return string(csr), err
}

func twoAgents(t *testing.T, env *fleet.Env) (alice, bob *fleet.Agent) {
	t.Helper()
	c := ctx(t)
	for _, d := range []string{"alice.example.test", "bob.example.test"} {
		if _, err := env.AddDomain(c, d); err != nil {
			t.Fatal(err)
		}
	}
	alice, err := env.NewAgent(c, "alice", []string{"alice.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err = env.NewAgent(c, "bob", []string{"bob.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"bob.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return alice, bob
}

// TestBoundaryReplySubjects: at baedd1d an agent that set a reply subject
// made the hub (hello/fetch/status answers) and JetStream (the PubAck of
// a request) write wherever it pointed: other agents' records, domains,
// the certificate inventory, the audit log, other agents' queues. Now
// every such message is dropped unanswered and counted, and nothing the
// hub stores changes.
func TestBoundaryReplySubjects(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	alice, bob := twoAgents(t, env)
	nc, err := asAgent(t, env, alice)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bobNC, err := asAgent(t, env, bob)
	if err != nil {
		t.Fatal(err)
	}
	defer bobNC.Close()
	bobInbox, err := bobNC.SubscribeSync(shared.Down("bob", ">"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bobNC.Flush(); err != nil {
		t.Fatal(err)
	}
	// The hub answers alice normally: her credentials work.
	if err := helloErr(nc, "alice"); err != nil {
		t.Fatal(err)
	}
	// The hub writes what it saw of both (connections, hello) within a
	// second or so (statuses are written in batches): wait for it, so only
	// the hostile messages below could change the store.
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		st := hubStatus(t, env).Status
		return len(st) == 2 && slices.ContainsFunc(st, func(s hub.AgentStatus) bool {
			return s.AgentID == "alice" && s.Report.AgentVersion == "test"
		}), nil
	}); err != nil {
		t.Fatalf("the hub did not record both agents' connections: %v", err)
	}
	before := storeState(t, env)
	agentsBefore, err := env.Hub(c, "agent", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{
		"$KV.certfleet_agents.bob", "$KV.certfleet_agents.alice", "$KV.certfleet_domains.bob.example.test",
		"$KV.certfleet_certs.bob.web", "certfleet.audit.issued", "certfleet.queue.bob",
		"$JS.API.STREAM.DELETE.KV_certfleet_agents", "$JS.API.STREAM.PURGE.CERTFLEET_AUDIT",
		shared.Up("bob", shared.VerbCertReq), shared.Down("bob", shared.VerbResult), shared.Down("bob", shared.VerbReply),
		"certfleet.admin.agent.remove", "_INBOX.bob.x", "$SYS.REQ.SERVER.PING",
	}
	sent := 0
	for verb, body := range hostileBodies(t, "alice") {
		for _, target := range targets {
			m := nats.NewMsg(shared.Up("alice", verb))
			m.Reply = target
			m.Header.Set(shared.CorrelationHeader, "evil"+verb)
			m.Data = body
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var st admin.StatusReply
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		st = hubStatus(t, env)
		return st.Dropped["reply_subject"] >= uint64(sent), nil
	}); err != nil {
		t.Fatalf("the hub did not drop all %d messages with a reply subject: %v", sent, st.Dropped)
	}
	if after := storeState(t, env); !maps.Equal(before, after) {
		t.Fatalf("the hub's store changed:\nbefore %v\nafter  %v", before, after)
	}
	agentsAfter, err := env.Hub(c, "agent", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if agentsAfter != agentsBefore {
		t.Fatalf("agent records changed:\n%s\n%s", agentsBefore, agentsAfter)
	}
	if m, err := bobInbox.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("bob received %q on %s", m.Data, m.Subject)
	}
	// Bob still gets his certificate.
	if err := bob.Start(); err != nil {
		t.Fatal(err)
	}
	defer bob.Stop()
	if _, err := bob.AwaitCert(c, "web", []string{"bob.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
}

// TestBoundaryFloodDoesNotBlockOthers: at baedd1d an agent filled another
// agent's queue through the PubAck path and blocked its renewal. Now one
// agent flooding every subject it may use, as fast as it can, only spends
// its own budget: another agent is issued its certificate meanwhile, the
// flood is counted, and the hub's log stays bounded.
func TestBoundaryFloodDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	alice, bob := twoAgents(t, env)
	nc, err := asAgent(t, env, alice, nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bodies := hostileBodies(t, "alice")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flooded int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				flooded = i
				return
			default:
			}
			for _, verb := range []string{shared.VerbHello, shared.VerbCertReq, shared.VerbStatus, shared.VerbFetch} {
				m := nats.NewMsg(shared.Up("alice", verb))
				m.Header.Set(shared.CorrelationHeader, "flood")
				m.Data = bodies[verb]
				if verb == shared.VerbCertReq {
					// A fresh request id each time, so de-duplication
					// does not absorb the flood.
					m.Data = shared.MustEncode(&shared.CertRequest{RequestID: shared.NewRequestID(), CertName: "web", CSR: testCSRCached, Created: time.Now()})
				}
				_ = nc.PublishMsg(m)
			}
			if i%256 == 0 {
				_ = nc.Flush()
			}
		}
	}()
	if err := bob.Start(); err != nil {
		t.Fatal(err)
	}
	defer bob.Stop()
	start := time.Now()
	_, err = bob.AwaitCert(c, "web", []string{"bob.example.test"}, issueTimeout)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("bob's certificate during alice's flood: %v", err)
	}
	t.Logf("bob's certificate arrived %s into a flood of %d messages from alice", time.Since(start).Round(time.Millisecond), flooded*4)
	st := hubStatus(t, env)
	if st.Dropped["rate_limited"] == 0 {
		t.Fatalf("the flood was not rate-limited: %v", st.Dropped)
	}
	// Alice queued at most her request budget, not the flood.
	queued := 0
	for _, r := range st.Requests {
		if r.AgentID == "alice" {
			queued++
		}
	}
	if queued > 250 {
		t.Fatalf("alice got %d requests through", queued)
	}
	logged := strings.Count(env.HubProc().LogTail(100000), "dropped agent message")
	if logged > 50 {
		t.Fatalf("the hub logged %d drop lines for one flooding agent", logged)
	}
	t.Logf("dropped: %v; %d drop lines logged; %d of alice's requests reached the queue", st.Dropped, logged, queued)
}

// testCSRCached is a CSR for alice's name, made once: the flood must not
// spend its time generating keys.
var testCSRCached = func() string {
	csr, err := newCSR("alice.example.test")
	if err != nil {
		panic(err)
	}
	return csr
}()

// TestBoundaryRemoveRevokesEveryKey: at baedd1d an agent that emptied its
// own record's key could no longer be revoked; `agent remove` still said
// "revoked". Now the hub revokes every key it ever issued to the agent,
// whatever its record says; if it has none on record it refuses to
// remove (non-zero exit, audited) until the admin revokes the key by hand.
func TestBoundaryRemoveRevokesEveryKey(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	alice, err := env.NewAgent(c, "alice", []string{"alice.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := env.NewAgent(c, "carol", []string{"carol.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	aliceNC, err := asAgent(t, env, alice)
	if err != nil {
		t.Fatal(err)
	}
	defer aliceNC.Close()
	carolNC, err := asAgent(t, env, carol)
	if err != nil {
		t.Fatal(err)
	}
	defer carolNC.Close()
	_, _, carolKey := enrollmentCreds(t, carol)

	// Damage both records the way the old attack did (key emptied), and
	// carol's key record too, as a hub of the old layout would have none.
	js, err := jetstream.New(asHub(t, env))
	if err != nil {
		t.Fatal(err)
	}
	agents, err := js.KeyValue(c, store.BucketAgents)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alice", "carol"} {
		e, err := agents.Get(c, id)
		if err != nil {
			t.Fatal(err)
		}
		var a hub.Agent
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			t.Fatal(err)
		}
		a.NKey = ""
		b, _ := json.Marshal(a)
		if _, err := agents.Put(c, id, b); err != nil {
			t.Fatal(err)
		}
	}
	keysKV, err := js.KeyValue(c, store.BucketAgentKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := keysKV.Delete(c, carolKey); err != nil {
		t.Fatal(err)
	}

	if _, err := env.Hub(c, "agent", "remove", "alice"); err != nil {
		t.Fatalf("remove alice: %v", err)
	}
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return aliceNC.IsClosed(), nil }); err != nil {
		t.Fatal("alice's connection survived her removal")
	}
	if nc, err := asAgent(t, env, alice); err == nil {
		nc.Close()
		t.Fatal("alice reconnected after removal")
	} else if !isAuthViolation(err) {
		t.Fatalf("alice's reconnect: %v, want an authorization violation", err)
	}

	out, err := env.Hub(c, "agent", "remove", "carol")
	if err == nil || !strings.Contains(err.Error(), "no credential key on record") {
		t.Fatalf("remove of an agent with no key on record: %q, %v; want a refusal", out, err)
	}
	if audit, err := env.Hub(c, "audit", "--agent", "carol"); err != nil || !strings.Contains(audit, "revoke_failed") {
		t.Fatalf("audit after the refused removal: %v\n%s", err, audit)
	}
	if carolNC.IsClosed() {
		t.Fatal("carol cut off by a removal that failed")
	}
	if _, err := env.Hub(c, "agent", "revoke-key", carolKey); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return carolNC.IsClosed(), nil }); err != nil {
		t.Fatal("revoke-key did not cut carol off")
	}
	if _, err := env.Hub(c, "agent", "remove", "carol", "--force"); err != nil {
		t.Fatalf("remove --force: %v", err)
	}

	// Revocations outlive a hub restart.
	if err := env.StopHub(); err != nil {
		t.Fatal(err)
	}
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*fleet.Agent{alice, carol} {
		if nc, err := asAgent(t, env, a); err == nil {
			nc.Close()
			t.Fatalf("%s connected after a hub restart", a.Name)
		}
	}
}

// TestBoundaryOversizedAndReplayed: a message over the agent's payload
// limit is refused by the server itself; a replayed request is queued
// once.
func TestBoundaryOversizedAndReplayed(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	alice, _ := twoAgents(t, env)
	rec := &errRecorder{}
	nc, err := asAgent(t, env, alice, nats.ErrorHandler(rec.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The server enforces the agent's payload limit (the protocol's
	// maximum plus headroom for headers), well below its own 1 MiB.
	perr := nc.Publish(shared.Up("alice", shared.VerbStatus), make([]byte, shared.MaxMessageSize+16<<10))
	if perr == nil {
		perr = nc.Flush()
	}
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) {
		return perr != nil || rec.has("maximum payload") || nc.IsClosed(), nil
	}); err != nil {
		t.Fatalf("an oversized message was not refused by the server: %v", rec.errs)
	}
	nc.Close()
	nc, err = asAgent(t, env, alice)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	body := shared.MustEncode(&shared.CertRequest{RequestID: "replay0001", CertName: "web", CSR: testCSR(t, "alice.example.test"), Created: time.Now()})
	for range 5 {
		m, err := agentRequest(nc, "alice", shared.VerbCertReq, body, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := shared.DecodeReply(m.Data, &shared.Ack{}); err != nil {
			t.Fatalf("replay answered %v", err)
		}
	}
	requested := func() (int, bool) {
		out, err := env.Hub(c, "audit", "--agent", "alice", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep admin.AuditReply
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		n, issued := 0, false
		for _, raw := range rep.Events {
			var ev store.AuditEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.RequestID != "replay0001" {
				continue
			}
			switch ev.Kind {
			case store.AuditRequested:
				n++
			case store.AuditIssued:
				issued = true
			}
		}
		return n, issued
	}
	if err := fleet.Await(c, issueTimeout, func() (bool, error) { _, issued := requested(); return issued, nil }); err != nil {
		t.Fatal("the replayed request was never issued")
	}
	if n, _ := requested(); n != 1 {
		t.Fatalf("a request replayed 5 times was ordered %d times", n)
	}
}
