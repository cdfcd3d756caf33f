package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/shared"
)

// TestHostileAgentMessages sends malformed, oversized and wrong-version
// messages with a real agent's credentials: each gets an error reply with
// a stable code, the hub keeps working, and nothing is half-applied.
func TestHostileAgentMessages(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "mal1", []string{"www.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := asAgent(t, env, a)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	cases := []struct {
		name, verb string
		body       []byte
		code       shared.Code
	}{
		{"garbage hello", shared.VerbHello, []byte("\x00\xffnot json"), shared.CodeBadRequest},
		{"hello of the future", shared.VerbHello, []byte(`{"type":"io.certfleet.v9.hello","protocol":9}`), shared.CodeUnsupportedVersion},
		{"hello with a fetch body", shared.VerbHello, shared.MustEncode(&shared.FetchRequest{RequestID: "abcdefgh12"}), shared.CodeUnsupportedVersion},
		{"fetch with a bad id", shared.VerbFetch, []byte(`{"type":"io.certfleet.v1.fetch","request_id":"../../x"}`), shared.CodeBadRequest},
		{"fetch of an unknown request", shared.VerbFetch, shared.MustEncode(&shared.FetchRequest{RequestID: "nosuchrequest1"}), shared.CodeNotFound},
		{"status with trailing data", shared.VerbStatus, []byte(`{"type":"io.certfleet.v1.status","certificates":[]} {}`), shared.CodeBadRequest},
		{"status with a bad block name", shared.VerbStatus, []byte(`{"type":"io.certfleet.v1.status","certificates":[{"name":"../etc"}]}`), shared.CodeBadRequest},
		{"oversized status", shared.VerbStatus, []byte(`{"type":"io.certfleet.v1.status","hostname":"` + strings.Repeat("a", shared.MaxMessageSize) + `"}`), shared.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := agentRequest(nc, a.Name, tc.verb, tc.body, 10*time.Second)
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			err = shared.DecodeReply(msg.Data, &shared.Ack{})
			if shared.CodeOf(err) != tc.code {
				t.Fatalf("reply %s: code %s, want %s", msg.Data, shared.CodeOf(err), tc.code)
			}
		})
	}

	// A malformed request in the durable queue is dropped and audited; it
	// does not block the queue: a good request after it is issued.
	bad := []byte(`{"type":"io.certfleet.v1.cert_request","request_id":"badbadbad1","cert_name":"web","csr":"not a csr"}`)
	if msg, err := agentRequest(nc, a.Name, shared.VerbCertReq, bad, 10*time.Second); err != nil {
		t.Fatal(err)
	} else if err := shared.DecodeReply(msg.Data, &shared.Ack{}); err != nil {
		t.Fatalf("bad request not queued: %v", err)
	}
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		out, err := env.Hub(c, "audit", "--agent", a.Name)
		return err == nil && strings.Contains(out, "refused") && strings.Contains(out, "bad_csr"), err
	}); err != nil {
		t.Fatalf("malformed request not refused in the audit log: %v", err)
	}
	// The hub keeps answering the agent after all of it.
	msg, err := agentRequest(nc, a.Name, shared.VerbHello, shared.MustEncode(&shared.Hello{Protocol: shared.ProtocolVersion}), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.DecodeReply(msg.Data, &shared.HelloReply{}); err != nil {
		t.Fatalf("hello after hostile input: %v", err)
	}
	if err := a.WriteConfig(fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
}
