package natsserver

import (
	"context"
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
	b, _ := env.agent(t, "b")

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

	t.Run("read b's replies", func(t *testing.T) {
		// b asks; the hub answers into b's inbox; a, listening with a
		// wildcard it is allowed (its own inbox), sees nothing of it.
		sub, err := hub.Subscribe(shared.Up("b", shared.VerbHello), func(m *nats.Msg) { _ = m.Respond([]byte("for b only")) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		own, err := a.SubscribeSync("_INBOX.a.>")
		if err != nil {
			t.Fatal(err)
		}
		defer own.Unsubscribe()
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := hub.Flush(); err != nil {
			t.Fatal(err)
		}
		reply, err := b.Request(shared.Up("b", shared.VerbHello), nil, 5*time.Second)
		if err != nil || string(reply.Data) != "for b only" {
			t.Fatalf("b's request: %v, %v", reply, err)
		}
		if m, err := own.NextMsg(50 * time.Millisecond); err == nil {
			t.Fatalf("agent a saw %q on %q", m.Data, m.Subject)
		}
	})

	t.Run("publish into b's inbox or down subjects", func(t *testing.T) {
		for _, subj := range []string{"_INBOX.b.spoof.1", shared.Down("b", shared.VerbCreds), shared.Down("a", shared.VerbCreds)} {
			if err := a.Publish(subj, []byte("x")); err != nil {
				t.Fatal(err)
			}
			aErrs.waitFor(t, "permissions violation for publish to \""+subj+"\"")
		}
	})
}

func TestRequestReplyBothWays(t *testing.T) {
	env := startAuthServer(t, nil)
	hub := env.hub(t)
	a, _ := env.agent(t, "agent-1")

	t.Run("agent asks hub", func(t *testing.T) {
		sub, err := hub.Subscribe(shared.SubjectAllHello, func(m *nats.Msg) {
			id, _, _, _ := shared.ParseSubject(m.Subject)
			_ = m.Respond([]byte("hello " + id))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := hub.Flush(); err != nil {
			t.Fatal(err)
		}
		reply, err := a.Request(shared.Up("agent-1", shared.VerbHello), []byte("hi"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(reply.Data) != "hello agent-1" {
			t.Fatalf("reply %q", reply.Data)
		}
	})

	t.Run("hub asks agent", func(t *testing.T) {
		sub, err := a.Subscribe(shared.Down("agent-1", "ping"), func(m *nats.Msg) { _ = m.Respond([]byte("pong")) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		reply, err := hub.Request(shared.Down("agent-1", "ping"), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(reply.Data) != "pong" {
			t.Fatalf("reply %q", reply.Data)
		}
	})

	t.Run("agent without its inbox prefix gets no reply", func(t *testing.T) {
		path := env.agentCreds(t, "agent-2", time.Hour)
		nc, errs := env.connect(t, path)
		_, err := nc.Request(shared.Up("agent-2", shared.VerbHello), nil, 300*time.Millisecond)
		if err == nil {
			t.Fatal("request with the default inbox prefix got a reply")
		}
		errs.waitFor(t, "permissions violation for subscription to \"_INBOX.")
	})
}

// TestAgentJetStreamPublish: an agent publishes into the requests stream
// and gets its PubAck (de-duplicated by Nats-Msg-Id) with no $JS.API
// permission, and cannot call the JetStream API itself.
func TestAgentJetStreamPublish(t *testing.T) {
	env := startAuthServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hjs, err := jetstream.New(env.hub(t))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := hjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: shared.StreamRequests, Subjects: []string{shared.SubjectAllCertReq},
		Retention: jetstream.WorkQueuePolicy, Duplicates: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, aErrs := env.agent(t, "web1")
	js, err := jetstream.New(a)
	if err != nil {
		t.Fatal(err)
	}
	reqID := shared.NewRequestID()
	msg := &nats.Msg{Subject: shared.Up("web1", shared.VerbCertReq), Data: []byte(`{"type":"x"}`)}
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(reqID))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != shared.StreamRequests || ack.Duplicate {
		t.Fatalf("PubAck %+v", ack)
	}
	again, err := js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject, Data: msg.Data}, jetstream.WithMsgID(reqID))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Sequence != ack.Sequence {
		t.Fatalf("second PubAck %+v, want a duplicate of %d", again, ack.Sequence)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	// Another agent's subject is refused before it reaches the stream.
	if _, err := js.Publish(short(), shared.Up("other", shared.VerbCertReq), []byte("x")); err == nil {
		t.Fatal("agent published into another agent's subject")
	}
	if _, err := js.AccountInfo(short()); err == nil {
		t.Fatal("agent called the JetStream API")
	}
	aErrs.waitFor(t, "permissions violation for publish to \"$JS.API.INFO\"")
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream after refused publishes: %+v, %v", info, err)
	}
}
