package natsserver

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/shared"
)

// TestAgentIsolation: agent a cannot publish as, subscribe to, or read the
// replies of agent b. Each denied action is followed by an allowed one, so
// the allowed message arriving first proves the denied one was dropped
// (messages of one connection keep their order).
func TestAgentIsolation(t *testing.T) {
	env := startAuthServer(t, nil)
	hub := env.hub(t)
	a, aErrs := env.agent(t, "a")
	env.agent(t, "b")

	t.Run("publish on b's up subject", func(t *testing.T) {
		sub, err := hub.SubscribeSync("agent.*.up.>")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := hub.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, subj := range []string{shared.Up("b", shared.VerbHello), shared.Up("a", "sentinel")} {
			if err := a.Publish(subj, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != shared.Up("a", "sentinel") {
			t.Fatalf("hub got %q from agent a first", m.Subject)
		}
		aErrs.waitFor(t, "permissions violation for publish to \"agent.b.up.hello\"")
	})

	denied := []struct {
		name    string
		subject string // a subscribes here; the hub publishes here
	}{
		{"subscribe to b's down subjects", shared.Down("b", shared.VerbResult)},
		{"subscribe to b's inbox", "_INBOX.b.x.y"},
		{"subscribe to everything", ">"},
		{"subscribe to all agents", "agent.*.down.result"},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			bad, err := a.SubscribeSync(tc.subject)
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Unsubscribe()
			good, err := a.SubscribeSync(shared.Down("a", "sentinel"))
			if err != nil {
				t.Fatal(err)
			}
			defer good.Unsubscribe()
			if err := a.Flush(); err != nil {
				t.Fatal(err)
			}
			pubSubject := tc.subject
			if pubSubject == ">" || pubSubject == "agent.*.down.result" {
				pubSubject = shared.Down("b", shared.VerbResult)
			}
			if err := hub.Publish(pubSubject, []byte("secret")); err != nil {
				t.Fatal(err)
			}
			if err := hub.Publish(shared.Down("a", "sentinel"), []byte("ok")); err != nil {
				t.Fatal(err)
			}
			if _, err := good.NextMsg(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			if m, err := bad.NextMsg(10 * time.Millisecond); err == nil {
				t.Fatalf("agent a read %q on %q", m.Data, m.Subject)
			}
			aErrs.waitFor(t, "permissions violation for subscription to \""+tc.subject+"\"")
		})
	}

	t.Run("publish into b's down subjects or any inbox", func(t *testing.T) {
		for _, subj := range []string{"_INBOX.b.spoof.1", shared.Down("b", shared.VerbCreds), shared.Down("a", shared.VerbCreds)} {
			if err := a.Publish(subj, []byte("x")); err != nil {
				t.Fatal(err)
			}
			aErrs.waitFor(t, "permissions violation for publish to \""+subj+"\"")
		}
	})
}

// TestUpAndDown: what an agent publishes on its up subjects reaches the
// hub's account (through the service import) and what the hub publishes
// on an agent's down subjects reaches that agent (through the stream
// import), and no other.
func TestUpAndDown(t *testing.T) {
	env := startAuthServer(t, nil)
	hub := env.hub(t)
	a, _ := env.agent(t, "agent-1")
	b, _ := env.agent(t, "agent-2")

	up, err := hub.SubscribeSync(shared.SubjectAllUp)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(shared.Up("agent-1", shared.VerbHello), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := up.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != shared.Up("agent-1", shared.VerbHello) || string(m.Data) != "hi" || m.Reply != "" {
		t.Fatalf("hub got %q %q reply %q", m.Subject, m.Data, m.Reply)
	}

	mine, err := a.SubscribeSync(shared.Down("agent-1", ">"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.SubscribeSync(shared.Down("agent-2", ">"))
	if err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{a, b} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.Publish(shared.Down("agent-1", shared.VerbReply), []byte("for 1")); err != nil {
		t.Fatal(err)
	}
	if err := hub.Publish(shared.Down("agent-2", shared.VerbReply), []byte("for 2")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sub  *nats.Subscription
		want string
	}{{mine, "for 1"}, {other, "for 2"}} {
		m, err := c.sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != c.want {
			t.Fatalf("got %q, want %q", m.Data, c.want)
		}
	}
}

// TestReplySubjectsStayInAgentsAccount is the trust boundary at the NATS
// level: an agent that sets a reply subject naming the hub's KV, JetStream
// API or another agent's subjects cannot make an answer land there. The
// hub sees only a "_R_." reply; an answer to it goes back into the agents'
// account, where the hub's state does not exist.
func TestReplySubjectsStayInAgentsAccount(t *testing.T) {
	env := startAuthServer(t, nil)
	hub := env.hub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, err := jetstream.New(hub)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "certfleet_agents"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "victim", []byte("record")); err != nil {
		t.Fatal(err)
	}
	a, _ := env.agent(t, "mallory")
	victim, _ := env.agent(t, "victim")
	vsub, err := victim.SubscribeSync(shared.Down("victim", ">"))
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	// A careless responder: it answers whatever reply it is given, with the
	// hub's full rights. The boundary must hold even then.
	var mu sync.Mutex
	var replies []string
	sub, err := hub.Subscribe(shared.SubjectAllUp, func(m *nats.Msg) {
		mu.Lock()
		replies = append(replies, m.Reply)
		mu.Unlock()
		_ = m.Respond([]byte("overwritten"))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	watch, err := hub.SubscribeSync("$KV.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	targets := []string{"$KV.certfleet_agents.victim", "$JS.API.STREAM.DELETE.KV_certfleet_agents",
		shared.Down("victim", shared.VerbResult), "certfleet.admin.agent.remove"}
	for _, r := range targets {
		if err := a.PublishRequest(shared.Up("mallory", shared.VerbHello), r, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(replies) == len(targets)
	}, "the hub to see every message")
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range replies {
		if !strings.HasPrefix(r, "_R_.") {
			t.Errorf("hub saw reply subject %q; want only _R_. replies", r)
		}
	}
	if m, err := watch.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("a write reached %q", m.Subject)
	}
	if e, err := kv.Get(ctx, "victim"); err != nil || string(e.Value()) != "record" || e.Revision() != 1 {
		t.Fatalf("victim record: %v, %v", e, err)
	}
	if _, err := js.Stream(ctx, "KV_certfleet_agents"); err != nil {
		t.Fatalf("stream gone: %v", err)
	}
	// The careless answer lands, at worst, on a subject of the agents'
	// account: here victim's down.result. That is why the hub itself never
	// answers a reply subject (see hub/service); this test shows the
	// accounts alone keep the hub's state out of reach.
	if m, err := vsub.NextMsg(time.Second); err == nil {
		t.Logf("careless answer reached %q (the accounts alone do not stop this)", m.Subject)
	}
}

// TestAgentsHaveNoJetStream: the agents' account has no JetStream at all,
// so an agent can neither call the API nor get a PubAck.
func TestAgentsHaveNoJetStream(t *testing.T) {
	env := startAuthServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hjs, err := jetstream.New(env.hub(t))
	if err != nil {
		t.Fatal(err)
	}
	// Even a stream that captured agent subjects in the hub's account gets
	// nothing: agents' messages reach the hub's account only through the
	// service import, which JetStream does not answer.
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "CAPTURE", Subjects: []string{"capture.>"}}); err != nil {
		t.Fatal(err)
	}
	a, aErrs := env.agent(t, "web1")
	js, err := jetstream.New(a)
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := js.AccountInfo(short); err == nil {
		t.Fatal("agent called the JetStream API")
	}
	aErrs.waitFor(t, "permissions violation for publish to \"$JS.API.INFO\"")
	short2, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	if _, err := js.Publish(short2, shared.Up("web1", shared.VerbCertReq), []byte("x")); err == nil {
		t.Fatal("agent got a PubAck")
	}
}
