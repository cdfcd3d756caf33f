// Package fakehub is a stand-in certfleet hub for the agent's tests. It
// speaks the hub's side of the protocol over a real NATS connection:
// consumes certificate requests from the JetStream stream, signs CSRs
// with a test CA, publishes results on down.result (or only keeps them
// for fetch), answers hello, fetch and status, and records everything
// for assertions. It is only imported by tests.
package fakehub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/shared"
)

// Request is a certificate request the hub received.
type Request struct {
	AgentID  string
	MsgID    string
	Req      shared.CertRequest
	Received time.Time
}

// Failure makes the hub fail the next request with Code.
type Failure struct {
	Code       shared.Code
	Message    string
	RetryAfter time.Time
}

// Hub is the fake hub.
type Hub struct {
	CA *testca.CA
	nc *nats.Conn

	mu        sync.Mutex
	changed   chan struct{}
	push      bool
	hold      bool
	lifetime  time.Duration
	backdate  time.Duration
	renewAt   func(notBefore, notAfter time.Time) time.Time
	fail      []Failure
	requests  []Request
	results   map[string]*shared.CertResult // "<agent>.<reqid>"
	statuses  map[string][]shared.StatusReport
	hellos    map[string]int
	fetches   int
	mute      bool
	consumeCx jetstream.ConsumeContext
	js        jetstream.JetStream
}

// Start connects to url, creates the request stream and the hub's
// consumer, and serves until the test ends.
func Start(tb testing.TB, url string) *Hub {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name("fakehub"))
	if err != nil {
		tb.Fatalf("fakehub connect: %v", err)
	}
	h := &Hub{
		CA:       testca.NewTB(tb),
		nc:       nc,
		changed:  make(chan struct{}),
		push:     true,
		lifetime: 90 * 24 * time.Hour,
		backdate: time.Minute,
		results:  map[string]*shared.CertResult{},
		statuses: map[string][]shared.StatusReport{},
		hellos:   map[string]int{},
	}
	tb.Cleanup(h.close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("fakehub jetstream: %v", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       shared.StreamRequests,
		Subjects:   []string{shared.SubjectQueue + ".*"},
		Retention:  jetstream.WorkQueuePolicy,
		Duplicates: 24 * time.Hour,
	})
	if err != nil {
		tb.Fatalf("fakehub stream: %v", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "hub",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		tb.Fatalf("fakehub consumer: %v", err)
	}
	h.consumeCx, err = cons.Consume(h.onRequest)
	if err != nil {
		tb.Fatalf("fakehub consume: %v", err)
	}
	h.js = js
	for subj, f := range map[string]nats.MsgHandler{
		shared.SubjectAllCertReq: h.onCertReq,
		shared.SubjectAllHello:   h.onHello,
		shared.SubjectAllFetch:   h.onFetch,
		shared.SubjectAllStatus:  h.onStatus,
	} {
		if _, err := nc.Subscribe(subj, f); err != nil {
			tb.Fatalf("fakehub subscribe: %v", err)
		}
	}
	if err := nc.Flush(); err != nil {
		tb.Fatalf("fakehub flush: %v", err)
	}
	return h
}

func (h *Hub) close() {
	if h.consumeCx != nil {
		h.consumeCx.Stop()
	}
	h.nc.Close()
}

// signal wakes waiters; call with mu held.
func (h *Hub) signal() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// SetPush chooses whether results are published on down.result (true,
// the default) or only kept for fetch.
func (h *Hub) SetPush(v bool) { h.mu.Lock(); h.push = v; h.mu.Unlock() }

// SetHold makes the hub accept requests without answering them (fetch
// says pending) until ReleaseHeld.
func (h *Hub) SetHold(v bool) { h.mu.Lock(); h.hold = v; h.mu.Unlock() }

// SetLifetime sets the lifetime of issued certificates.
func (h *Hub) SetLifetime(d time.Duration) { h.mu.Lock(); h.lifetime = d; h.mu.Unlock() }

// SetBackdate sets how long before issuance certificates become valid
// (default a minute, like a CA allowing for clock skew).
func (h *Hub) SetBackdate(d time.Duration) { h.mu.Lock(); h.backdate = d; h.mu.Unlock() }

// SetRenewAt sets how the hub computes RenewAt advice (nil: none).
func (h *Hub) SetRenewAt(f func(nb, na time.Time) time.Time) {
	h.mu.Lock()
	h.renewAt = f
	h.mu.Unlock()
}

// FailNext queues a failure for the next request.
func (h *Hub) FailNext(f Failure) { h.mu.Lock(); h.fail = append(h.fail, f); h.mu.Unlock() }

func (h *Hub) onRequest(m jetstream.Msg) {
	id, ok := shared.ParseQueueSubject(m.Subject())
	if !ok {
		_ = m.Term()
		return
	}
	var req shared.CertRequest
	if err := shared.Decode(m.Data(), &req); err != nil {
		_ = m.Term()
		return
	}
	h.mu.Lock()
	h.requests = append(h.requests, Request{AgentID: id, MsgID: m.Headers().Get(jetstream.MsgIDHeader), Req: req, Received: time.Now()})
	hold := h.hold
	h.signal()
	h.mu.Unlock()
	_ = m.Ack()
	if !hold {
		h.answer(id, req)
	}
}

// ReleaseHeld answers every request received while holding.
func (h *Hub) ReleaseHeld() {
	h.mu.Lock()
	h.hold = false
	var todo []Request
	for _, r := range h.requests {
		if h.results[r.AgentID+"."+r.Req.RequestID] == nil {
			todo = append(todo, r)
		}
	}
	h.mu.Unlock()
	for _, r := range todo {
		h.answer(r.AgentID, r.Req)
	}
}

func (h *Hub) answer(agentID string, req shared.CertRequest) {
	h.mu.Lock()
	lifetime, backdate, renewAt, push := h.lifetime, h.backdate, h.renewAt, h.push
	var fail *Failure
	if len(h.fail) > 0 {
		f := h.fail[0]
		h.fail = h.fail[1:]
		fail = &f
	}
	h.mu.Unlock()
	res := &shared.CertResult{RequestID: req.RequestID, CertName: req.CertName, Finished: time.Now().UTC()}
	if fail != nil {
		res.Status = shared.StatusFailed
		res.Error = &shared.Error{Code: fail.Code, Message: fail.Message}
		res.RetryAfter = fail.RetryAfter
	} else {
		chain, leaf, err := h.CA.IssueCSR(req.CSR, time.Now().Add(-backdate), lifetime)
		if err != nil {
			res.Status = shared.StatusFailed
			res.Error = shared.Errorf(shared.CodeBadCSR, "%v", err)
		} else {
			res.Status = shared.StatusIssued
			res.Chain = chain
			res.Serial = fmt.Sprintf("%x", leaf.SerialNumber)
			res.NotBefore, res.NotAfter = leaf.NotBefore, leaf.NotAfter
			if renewAt != nil {
				res.RenewAt = renewAt(leaf.NotBefore, leaf.NotAfter)
			}
		}
	}
	// Encoded before it is shared: encoding sets the type field, and
	// results are read by other goroutines once stored.
	data := shared.MustEncode(res)
	h.mu.Lock()
	h.results[agentID+"."+req.RequestID] = res
	h.signal()
	h.mu.Unlock()
	if push {
		_ = h.nc.Publish(shared.Down(agentID, shared.VerbResult), data)
	}
}

// SetMute makes the hub count hellos and status reports without
// answering them (a hub still starting up), until SetMute(false).
func (h *Hub) SetMute(v bool) { h.mu.Lock(); h.mute = v; h.mu.Unlock() }

func (h *Hub) onHello(m *nats.Msg) {
	id, _, _, _ := shared.ParseSubject(m.Subject)
	var hello shared.Hello
	if err := shared.Decode(m.Data, &hello); err != nil {
		h.reply(m, shared.ErrorBody(err))
		return
	}
	h.mu.Lock()
	h.hellos[id]++
	mute := h.mute
	h.signal()
	h.mu.Unlock()
	if mute {
		return
	}
	h.reply(m, shared.MustEncode(&shared.HelloReply{HubVersion: "fake", Protocol: shared.ProtocolVersion, ServerTime: time.Now().UTC()}))
}

func (h *Hub) onFetch(m *nats.Msg) {
	id, _, _, _ := shared.ParseSubject(m.Subject)
	var f shared.FetchRequest
	if err := shared.Decode(m.Data, &f); err != nil {
		h.reply(m, shared.ErrorBody(err))
		return
	}
	h.mu.Lock()
	h.fetches++
	var res *shared.CertResult
	if r := h.results[id+"."+f.RequestID]; r != nil {
		cp := *r // encoded outside the lock; the stored one stays untouched
		res = &cp
	}
	known := false
	for _, r := range h.requests {
		if r.AgentID == id && r.Req.RequestID == f.RequestID {
			known = true
		}
	}
	h.signal()
	h.mu.Unlock()
	switch {
	case res != nil:
		h.reply(m, shared.MustEncode(res))
	case known:
		h.reply(m, shared.ErrorBody(shared.Errorf(shared.CodePending, "request %s in progress", f.RequestID)))
	default:
		h.reply(m, shared.ErrorBody(shared.Errorf(shared.CodeNotFound, "no request %s", f.RequestID)))
	}
}

func (h *Hub) onStatus(m *nats.Msg) {
	id, _, _, _ := shared.ParseSubject(m.Subject)
	var s shared.StatusReport
	if err := shared.Decode(m.Data, &s); err != nil {
		h.reply(m, shared.ErrorBody(err))
		return
	}
	h.mu.Lock()
	if h.mute {
		h.mu.Unlock()
		return
	}
	h.statuses[id] = append(h.statuses[id], s)
	h.signal()
	h.mu.Unlock()
	h.reply(m, shared.MustEncode(&shared.Ack{}))
}

// Publish sends raw data on subject (malformed-message tests).
func (h *Hub) Publish(tb testing.TB, subject string, data []byte) {
	tb.Helper()
	if err := h.nc.Publish(subject, data); err != nil {
		tb.Fatalf("fakehub publish: %v", err)
	}
	if err := h.nc.Flush(); err != nil {
		tb.Fatalf("fakehub flush: %v", err)
	}
}

// SendCreds sends a credential renewal as the hub does (a request on
// down.creds) and returns the agent's answer: nil for an Ack, the
// *shared.Error of an ErrorReply, or the request's error.
func (h *Hub) SendCreds(agentID, jwt string, expires time.Time) error {
	data, err := shared.Encode(&shared.CredsUpdate{JWT: jwt, Expires: expires})
	if err != nil {
		return err
	}
	sub, err := h.nc.SubscribeSync(shared.Up(agentID, shared.VerbAck))
	if err != nil {
		return fmt.Errorf("creds request: %w", err)
	}
	defer sub.Unsubscribe()
	const corr = "fakehubcreds"
	out := nats.NewMsg(shared.Down(agentID, shared.VerbCreds))
	out.Header.Set(shared.CorrelationHeader, corr)
	out.Data = data
	if err := h.nc.PublishMsg(out); err != nil {
		return fmt.Errorf("creds request: %w", err)
	}
	for {
		resp, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			return fmt.Errorf("creds request: %w", err)
		}
		if resp.Header.Get(shared.CorrelationHeader) == corr {
			return shared.DecodeReply(resp.Data, &shared.Ack{})
		}
	}
}

// onCertReq queues a request the way the hub does: into the requests
// stream on the agent's queue subject, de-duplicated by agent and request
// id, answered with an Ack.
func (h *Hub) onCertReq(m *nats.Msg) {
	id, _, _, _ := shared.ParseSubject(m.Subject)
	var req shared.CertRequest
	if err := shared.Decode(m.Data, &req); err != nil {
		h.reply(m, shared.ErrorBody(err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := &nats.Msg{Subject: shared.QueueSubject(id), Data: m.Data}
	if _, err := h.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id+"."+req.RequestID)); err != nil {
		h.reply(m, shared.ErrorBody(shared.Errorf(shared.CodeInternal, "queue: %v", err)))
		return
	}
	h.reply(m, shared.MustEncode(&shared.Ack{}))
}

// reply answers an agent request on its down.reply subject.
func (h *Hub) reply(m *nats.Msg, body []byte) {
	id, _, _, _ := shared.ParseSubject(m.Subject)
	out := nats.NewMsg(shared.Down(id, shared.VerbReply))
	out.Header.Set(shared.CorrelationHeader, m.Header.Get(shared.CorrelationHeader))
	out.Data = body
	_ = h.nc.PublishMsg(out)
}

// Requests returns the requests received so far.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests...)
}

// Statuses returns the status reports agent id sent.
func (h *Hub) Statuses(id string) []shared.StatusReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]shared.StatusReport(nil), h.statuses[id]...)
}

// Hellos counts agent id's hellos.
func (h *Hub) Hellos(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hellos[id]
}

// Fetches counts fetch requests.
func (h *Hub) Fetches() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fetches
}

// Result returns the result kept for a request.
func (h *Hub) Result(agentID, reqID string) *shared.CertResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.results[agentID+"."+reqID]
}

// Wait blocks until cond (called with the hub's lock not held) is true,
// re-checking whenever the hub's records change and at least every 50 ms,
// or fails the test after timeout.
func (h *Hub) Wait(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}
