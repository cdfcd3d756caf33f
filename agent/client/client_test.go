package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/internal/natstest"
	"github.com/certfleet/certfleet/shared"
)

const id = "agent1"

func startServer(tb testing.TB) string {
	tb.Helper()
	s := natstest.JetStream(tb)
	return s.ClientURL()
}

// hubConn is the test's hub side.
func hubConn(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

type recorder struct {
	mu   sync.Mutex
	msgs []shared.Message
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 100)} }

func (r *recorder) add(m shared.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.ch <- struct{}{}
}
func (r *recorder) HandleResult(m *shared.CertResult)  { r.add(m) }
func (r *recorder) HandleRenew(m *shared.RenewCommand) { r.add(m) }

func connect(tb testing.TB, url string, h Handler) *Client {
	tb.Helper()
	connected := make(chan struct{}, 4)
	c, err := Connect(Options{AgentID: id, URLs: []string{url}, Handler: h, OnConnect: func() { connected <- struct{}{} }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		tb.Fatal("OnConnect not called")
	}
	return c
}

func TestRequests(t *testing.T) {
	url := startServer(t)
	hub := hubConn(t, url)
	var noReply bool
	hub.Subscribe(shared.SubjectAllHello, func(m *nats.Msg) {
		noReply = m.Reply == "" && m.Header.Get(shared.CorrelationHeader) != ""
		var h shared.Hello
		if err := shared.Decode(m.Data, &h); err != nil {
			respondAgent(hub, m, shared.ErrorBody(err))
			return
		}
		respondAgent(hub, m, shared.MustEncode(&shared.HelloReply{HubVersion: "t", Protocol: 1}))
	})
	hub.Subscribe(shared.SubjectAllFetch, func(m *nats.Msg) {
		var f shared.FetchRequest
		shared.Decode(m.Data, &f)
		switch f.RequestID {
		case "pending000":
			respondAgent(hub, m, shared.ErrorBody(shared.Errorf(shared.CodePending, "working")))
		case "mixedup00":
			respondAgent(hub, m, shared.MustEncode(&shared.CertResult{RequestID: "another00", Status: shared.StatusFailed, Error: &shared.Error{Code: "x"}}))
		case "garbage00":
			respondAgent(hub, m, []byte("}{"))
		default:
			respondAgent(hub, m, shared.MustEncode(&shared.CertResult{RequestID: f.RequestID, Status: shared.StatusFailed, Error: &shared.Error{Code: shared.CodeCAError, Message: "no"}}))
		}
	})
	hub.Subscribe(shared.SubjectAllStatus, func(m *nats.Msg) { respondAgent(hub, m, shared.MustEncode(&shared.Ack{})) })
	hub.Flush()

	c := connect(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Hello(ctx, &shared.Hello{AgentVersion: "v", Protocol: 1})
	if err != nil || r.HubVersion != "t" {
		t.Fatalf("hello: %+v %v", r, err)
	}
	if !noReply {
		t.Error("request carries a reply subject or no correlation id")
	}
	if _, err := c.Fetch(ctx, "pending000"); shared.CodeOf(err) != shared.CodePending {
		t.Errorf("pending fetch: %v", err)
	}
	if _, err := c.Fetch(ctx, "mixedup00"); err == nil || !strings.Contains(err.Error(), "another00") {
		t.Errorf("fetch answered for another request: %v", err)
	}
	if _, err := c.Fetch(ctx, "garbage00"); err == nil {
		t.Error("garbage reply accepted")
	}
	if res, err := c.Fetch(ctx, "done00000"); err != nil || res.Error.Code != shared.CodeCAError {
		t.Errorf("fetch: %+v %v", res, err)
	}
	if err := c.ReportStatus(ctx, &shared.StatusReport{Certificates: []shared.CertStatus{}}); err != nil {
		t.Errorf("status: %v", err)
	}
}

// TestNoAnswer: without a hub, a request ends with the caller's deadline
// and says the hub did not answer.
func TestNoAnswer(t *testing.T) {
	c := connect(t, startServer(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Hello(ctx, &shared.Hello{Protocol: 1}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("hello without hub: %v", err)
	}
}

// TestCertRequest: a certificate request is a request like the others,
// answered with an Ack once the hub has queued it; an invalid one is never
// sent.
func TestCertRequest(t *testing.T) {
	url := startServer(t)
	hub := hubConn(t, url)
	got := make(chan shared.CertRequest, 2)
	hub.Subscribe(shared.SubjectAllCertReq, func(m *nats.Msg) {
		var r shared.CertRequest
		if err := shared.Decode(m.Data, &r); err != nil {
			respondAgent(hub, m, shared.ErrorBody(err))
			return
		}
		got <- r
		respondAgent(hub, m, shared.MustEncode(&shared.Ack{}))
	})
	hub.Flush()
	c := connect(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &shared.CertRequest{RequestID: shared.NewRequestID(), CertName: "web", CSR: "csr", Created: time.Now()}
	if err := c.PublishCertRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.RequestID != req.RequestID {
		t.Fatalf("hub got %+v", r)
	}
	if err := c.PublishCertRequest(ctx, &shared.CertRequest{RequestID: "x"}); err == nil {
		t.Error("invalid request published")
	}
	select {
	case r := <-got:
		t.Fatalf("hub got the invalid request %+v", r)
	default:
	}
}

func TestDownMessages(t *testing.T) {
	url := startServer(t)
	hub := hubConn(t, url)
	rec := newRecorder()
	c := connect(t, url, rec)
	// The subscription must reach the server before the hub publishes.
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	result := shared.Down(id, shared.VerbResult)
	bad := []struct {
		subject string
		data    string
	}{
		{result, "not json"},
		{result, `{"type":"io.certfleet.v1.cert_result"}`},
		{result, `{"type":"io.certfleet.v1.renew"}`},
		{shared.Down(id, shared.VerbRenew), `{"type":"io.certfleet.v1.renew","cert_name":"a b"}`},
		{shared.Down(id, shared.VerbCreds), `{"type":"io.certfleet.v1.creds"}`},
		{shared.Down(id, "other"), `{}`},
	}
	for _, b := range bad {
		hub.Publish(b.subject, []byte(b.data))
	}
	hub.Publish(result, shared.MustEncode(&shared.CertResult{RequestID: "request01", Status: shared.StatusFailed, Error: &shared.Error{Code: "x"}}))
	hub.Publish(shared.Down(id, shared.VerbRenew), shared.MustEncode(&shared.RenewCommand{CertName: "web"}))
	hub.Flush()
	for range 2 {
		select {
		case <-rec.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("valid messages not delivered")
		}
	}
	// Requests get an answer even when malformed; credentials are the
	// client's own business and never reach the handler.
	for _, tc := range []struct {
		name string
		data []byte
		code shared.Code
	}{
		{"malformed", []byte(`{"type":"io.certfleet.v1.creds"}`), shared.CodeBadRequest},
		{"no creds file", shared.MustEncode(&shared.CredsUpdate{JWT: "a.b.c"}), shared.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := hubRequest(hub, shared.Down(id, shared.VerbCreds), tc.data, 5*time.Second)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if err := shared.DecodeReply(resp.Data, &shared.Ack{}); shared.CodeOf(err) != tc.code {
				t.Fatalf("answer %v, want code %s", err, tc.code)
			}
		})
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 2 {
		t.Fatalf("%d messages delivered, want the 2 valid ones", len(rec.msgs))
	}
	if _, ok := rec.msgs[0].(*shared.CertResult); !ok {
		t.Errorf("first delivered %T", rec.msgs[0])
	}
}

func TestConnectOffline(t *testing.T) {
	c, err := Connect(Options{AgentID: id, URLs: []string{"nats://127.0.0.1:1"}})
	if err != nil {
		t.Fatalf("connect to a dead server should keep trying, got %v", err)
	}
	defer c.Close()
	if c.Connected() {
		t.Fatal("connected to nothing")
	}
	for name, o := range map[string]Options{
		"bad id":  {AgentID: "A.B", URLs: []string{"nats://127.0.0.1:1"}},
		"no urls": {AgentID: id},
		"bad ca":  {AgentID: id, URLs: []string{"nats://127.0.0.1:1"}, CAPEM: []byte("nope")},
	} {
		if c, err := Connect(o); err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReconnectDelay(t *testing.T) {
	for attempts, max := range map[int]time.Duration{1: time.Second, 3: 4 * time.Second, 50: time.Minute} {
		d := reconnectDelay(attempts)
		if d < max/2 || d > max {
			t.Errorf("attempt %d: %s, want in [%s, %s]", attempts, d, max/2, max)
		}
	}
}

func TestReconnectSpread(t *testing.T) {
	c := &Client{}
	// Without a window from the hub: the usual back-off.
	if d := c.reconnectDelay(1); d < time.Second/2 || d > time.Second {
		t.Fatalf("first attempt without a window: %s", d)
	}
	c.spread.Store(int64(20 * time.Second))
	var lo, hi int
	for range 2000 {
		d := c.reconnectDelay(1)
		if d < minReconnectDelay || d > 20*time.Second {
			t.Fatalf("first attempt in a 20 s window: %s", d)
		}
		if d < 5*time.Second {
			lo++
		}
		if d > 15*time.Second {
			hi++
		}
	}
	// Spread over the window, not bunched at one end (each quarter holds
	// about 500 of 2,000).
	if lo < 300 || hi < 300 {
		t.Fatalf("first attempts not spread over the window: %d below 5 s, %d above 15 s", lo, hi)
	}
	// Later attempts back off as before.
	if d := c.reconnectDelay(3); d < 2*time.Second || d > 4*time.Second {
		t.Fatalf("third attempt: %s", d)
	}
	// A hub cannot make an agent wait longer than maxReconnectSpread.
	c.spread.Store(int64(time.Hour))
	if d := c.reconnectDelay(1); d > maxReconnectSpread {
		t.Fatalf("window of an hour: waited %s", d)
	}
}

// FuzzDecodeDown: nothing panics, and whatever decodes is valid.
func FuzzDecodeDown(f *testing.F) {
	f.Add("agent.agent1.down.result", []byte(shared.MustEncode(&shared.CertResult{RequestID: "request01", Status: shared.StatusIssued, Chain: "x"})))
	f.Add("agent.agent1.down.renew", []byte(`{"type":"io.certfleet.v1.renew"}`))
	f.Add("agent.agent1.down.creds", []byte(`{"type":"io.certfleet.v1.creds","jwt":"a"}`))
	f.Add("agent.agent2.down.result", []byte(`{}`))
	f.Add("agent.agent1.up.result", []byte(`{}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		m, err := decodeDown(id, subject, data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded an invalid message: %v", err)
		}
		if got, _, _, _ := shared.ParseSubject(subject); got != id {
			t.Fatalf("accepted subject %q", subject)
		}
	})
}

// TestRefusedPublishEndsRequest: when the server refuses a request's
// publish (old credentials during an upgrade), the request ends at once
// with an error the caller retries on, not at its deadline.
func TestRefusedPublishEndsRequest(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Users: []*server.User{{Username: "a", Password: "p", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Deny: []string{shared.Up(id, shared.VerbCertReq)}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	c := connect(t, fmt.Sprintf("nats://a:p@%s", s.Addr()), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.PublishCertRequest(ctx, &shared.CertRequest{RequestID: shared.NewRequestID(), CertName: "web", CSR: "csr", Created: time.Now()})
	if !errors.Is(err, errConnectionChanged) || ctx.Err() != nil {
		t.Fatalf("refused request: %v (ctx %v); want errConnectionChanged before the deadline", err, ctx.Err())
	}
}
