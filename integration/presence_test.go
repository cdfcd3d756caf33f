package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/integration/fleet"
)

// hubAgentStatus is agent id's status row from `status --json`.
func hubAgentStatus(t *testing.T, env *fleet.Env, id string) (hub.AgentStatus, bool) {
	t.Helper()
	for _, s := range hubStatus(t, env).Status {
		if s.AgentID == id {
			return s, true
		}
	}
	return hub.AgentStatus{}, false
}

// TestPresence: the hub knows who is connected from the server's own
// connection events, not from a flag that is set and never cleared: an
// agent shows online while connected, offline with the time it was last
// seen once it goes, and a restarted hub does not show stale agents
// online. The connection name a client sends (which it chooses) does not
// count.
func TestPresence(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	a, err := env.NewAgent(c, "pres1", []string{"pres1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	online := func(want bool) error {
		return fleet.Await(c, 20*time.Second, func() (bool, error) {
			s, ok := hubAgentStatus(t, env, "pres1")
			return ok && s.Connected == want, nil
		})
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := online(true); err != nil {
		t.Fatal("a connected agent is not shown online")
	}
	out, err := env.Hub(c, "status")
	if err != nil || !strings.Contains(out, "online") {
		t.Fatalf("status does not say online: %v\n%s", err, out)
	}
	stopped := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := online(false); err != nil {
		t.Fatal("a stopped agent is still shown online")
	}
	if s, _ := hubAgentStatus(t, env, "pres1"); s.LastSeen.Before(stopped.Add(-time.Second)) {
		t.Fatalf("last seen %s, before the agent stopped at %s", s.LastSeen, stopped)
	}
	if out, err := env.Hub(c, "status"); err != nil || !strings.Contains(out, "offline") {
		t.Fatalf("status does not say offline: %v\n%s", err, out)
	}

	// Another agent's credentials with pres1's connection name: still
	// that other agent, pres1 stays offline.
	other, err := env.NewAgent(c, "pres2", []string{"pres2.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := asAgent(t, env, other, nats.Name("pres1"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		s, ok := hubAgentStatus(t, env, "pres2")
		return ok && s.Connected, nil
	}); err != nil {
		t.Fatal("the raw client is not shown online as pres2")
	}
	if s, _ := hubAgentStatus(t, env, "pres1"); s.Connected {
		t.Fatal("a client naming its connection pres1 made pres1 look online")
	}

	// A hub restart drops every connection: nobody is shown online from
	// before it, and an agent that comes back is online again.
	nc.Close()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if err := online(true); err != nil {
		t.Fatal(err)
	}
	env.KillHub()
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	if err := online(true); err != nil {
		t.Fatal("the agent is not online again after the hub restarted")
	}
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		s, ok := hubAgentStatus(t, env, "pres2")
		return ok && !s.Connected, nil
	}); err != nil {
		t.Fatal("an agent gone before the restart is still shown online")
	}
}
