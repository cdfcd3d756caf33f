package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// queueGroup lets several hubs on one NATS cluster share agent requests.
const queueGroup = "certfleet-hub"

// agentRequestTimeout bounds the handling of one agent request.
const agentRequestTimeout = 10 * time.Second

// subPendingMsgs bounds what one agent subscription buffers before the
// client drops (as a slow consumer); the admission checks run in the
// callback and are cheap, so this is only a backstop.
const subPendingMsgs = 64 << 10

// agentHandler answers one agent request; id comes from the authenticated
// subject. The returned body goes to agent.<id>.down.reply.
type agentHandler func(ctx context.Context, id string, data []byte) ([]byte, error)

// subscribeAgents answers the agents' requests. Every message is checked
// at the door, before any store access: subject shape, no reply subject,
// a correlation id, the agent's rate budget. What passes runs on the
// agent's worker shard, and its answer goes to agent.<id>.down.reply, a
// subject derived from the authenticated one: the hub never publishes to a
// subject an agent chose.
func (h *Hub) subscribeAgents(ctx context.Context) error {
	h.workers = newWorkers(max(minWorkers, 8*runtime.GOMAXPROCS(0)), maxQueuedPerAgent, maxQueued, queueExpiry,
		func(id string, waited time.Duration) {
			h.drops.addHub(dropExpired, time.Now())
			h.log.Debug("agent request expired in the queue", "agent", id, "waited", waited.Round(time.Millisecond))
		})
	handlers := map[string]agentHandler{
		shared.VerbHello:   h.onHello,
		shared.VerbCertReq: h.onCertReq,
		shared.VerbFetch:   h.onFetch,
		shared.VerbStatus:  h.onStatus,
	}
	for verb, fn := range handlers {
		sub, err := h.nc.QueueSubscribe(shared.Up("*", verb), queueGroup, func(m *nats.Msg) { h.admit(ctx, fn, m) })
		if err != nil {
			return err
		}
		if err := sub.SetPendingLimits(subPendingMsgs, 64<<20); err != nil {
			return err
		}
		h.subs = append(h.subs, sub)
	}
	// Every hub sees every ack; the one that sent the request takes it.
	sub, err := h.nc.Subscribe(shared.SubjectAllAck, h.onAck)
	if err != nil {
		return err
	}
	h.subs = append(h.subs, sub)
	return nil
}

// admission checks one message; it returns the agent id and correlation
// id, or the reason to drop it.
func admission(m *nats.Msg) (id, corr, reason string) {
	id, dir, _, ok := shared.ParseSubject(m.Subject)
	if !ok || dir != "up" {
		return "", "", dropSubject
	}
	if m.Reply != "" {
		return id, "", dropReply
	}
	corr = m.Header.Get(shared.CorrelationHeader)
	if shared.ValidateCorrelation(corr) != nil {
		return id, "", dropCorrelation
	}
	return id, corr, ""
}

func (h *Hub) admit(ctx context.Context, fn agentHandler, m *nats.Msg) {
	now := time.Now()
	id, corr, reason := admission(m)
	if reason == "" && !h.msgLimit.allow(id, now) {
		reason = dropRate
	}
	if reason != "" {
		h.drops.add(id, reason, m.Subject, now)
		return
	}
	data, subject := m.Data, m.Subject
	// submit blocks while the pool is full: this callback then stops taking
	// messages and the subscription buffers them (subPendingMsgs).
	if err := h.workers.submit(ctx, id, func() { h.serve(ctx, fn, id, corr, subject, data) }); err != nil {
		if errors.Is(err, errAgentBusy) {
			h.drops.add(id, dropBusy, subject, now)
		}
	}
}

// serve runs one admitted request and publishes its answer.
func (h *Hub) serve(ctx context.Context, fn agentHandler, id, corr, subject string, data []byte) {
	rctx, cancel := context.WithTimeout(ctx, agentRequestTimeout)
	defer cancel()
	body, err := h.callAgentHandler(rctx, fn, id, data)
	if err != nil {
		switch c := shared.CodeOf(err); {
		case c == shared.CodeInternal:
			h.log.Error("agent request failed", "agent", id, "subject", subject, "err", err)
		case c == shared.CodePending || c == shared.CodeNotFound:
			// Polling for a result is normal traffic.
			h.log.Debug("agent request answered", "agent", id, "subject", subject, "code", c)
		default:
			h.log.Warn("agent request refused", "agent", id, "subject", subject, "err", err)
		}
		body = shared.ErrorBody(err)
	}
	h.sendDown(id, shared.VerbReply, corr, body)
}

// callAgentHandler runs fn under safely, turning a panic into an internal
// error so that one bad message never takes the hub down.
func (h *Hub) callAgentHandler(ctx context.Context, fn agentHandler, id string, data []byte) (body []byte, err error) {
	if h.safely("agent request of "+id, func() { body, err = fn(ctx, id, data) }) {
		return nil, shared.Errorf(shared.CodeInternal, "the hub failed on this request")
	}
	return body, err
}

// sendDown publishes to agent id's down subject verb, with a correlation
// id when it answers or expects an answer.
func (h *Hub) sendDown(id, verb, corr string, body []byte) {
	msg := nats.NewMsg(shared.Down(id, verb))
	msg.Data = body
	if corr != "" {
		msg.Header.Set(shared.CorrelationHeader, corr)
	}
	if err := h.nc.PublishMsg(msg); err != nil {
		h.log.Warn("publish to agent", "agent", id, "verb", verb, "err", err)
	}
}

// newCorrelation returns a random correlation id.
func newCorrelation() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Hub) knownAgent(ctx context.Context, id string) (hub.Agent, error) {
	a, err := h.store.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, shared.Errorf(shared.CodeUnknownAgent, "agent %q is not registered with this hub", id)
	}
	return a, err
}

func (h *Hub) onHello(ctx context.Context, id string, data []byte) ([]byte, error) {
	var req shared.Hello
	if err := shared.Decode(data, &req); err != nil {
		return nil, err
	}
	a, err := h.knownAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	h.statusW.record(id, &statusPatch{hello: &helloInfo{version: capText(req.AgentVersion, maxVersionLen), hostname: capText(req.Hostname, maxHostnameLen)},
		seen: time.Now().UTC(), connected: true})
	if h.credsDue(a, time.Now()) {
		// Back after a while (or still on layout-1 credentials): its JWT is
		// due; renew it once the hello is answered.
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.sendCreds(context.WithoutCancel(ctx), a)
		}()
	}
	reply := &shared.HelloReply{HubVersion: h.version, Protocol: shared.ProtocolVersion, ServerTime: time.Now().UTC(),
		ReconnectSpreadMS: reconnectSpread(h.fleet.Len()).Milliseconds()}
	if !a.CredsExpire.IsZero() {
		t := a.CredsExpire
		reply.CredsExpire = &t
	}
	return shared.Encode(reply)
}

// onCertReq checks a certificate request and queues it. The queue has one
// subject per agent with its own limit, and the request id is scoped to
// the agent, so no agent can fill or pre-empt another's queue.
func (h *Hub) onCertReq(ctx context.Context, id string, data []byte) ([]byte, error) {
	var req shared.CertRequest
	if err := shared.Decode(data, &req); err != nil {
		return nil, err
	}
	if _, err := h.knownAgent(ctx, id); err != nil {
		return nil, err
	}
	if !h.reqLimit.allow(id, time.Now()) {
		return nil, shared.Errorf(shared.CodeThrottled, "agent %s sends certificate requests faster than the hub takes them (%g/s); retry later", id, float64(agentReqRate))
	}
	dup, err := h.store.Enqueue(ctx, id, req.RequestID, data)
	if errors.Is(err, store.ErrQueueFull) {
		return nil, shared.Errorf(shared.CodeThrottled, "agent %s has %d requests waiting; retry later", id, store.MaxQueuedPerAgent)
	}
	if err != nil {
		return nil, fmt.Errorf("queue request %s: %w", req.RequestID, err)
	}
	if dup {
		h.log.Debug("request already queued", "agent", id, "request", req.RequestID)
	}
	return shared.Encode(&shared.Ack{})
}

func (h *Hub) onFetch(ctx context.Context, id string, data []byte) ([]byte, error) {
	var req shared.FetchRequest
	if err := shared.Decode(data, &req); err != nil {
		return nil, err
	}
	res, err := h.store.GetResult(ctx, id, req.RequestID)
	if err == nil {
		return shared.Encode(&res)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	st, err := h.store.GetRequest(ctx, id, req.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, shared.Errorf(shared.CodeNotFound, "request %s is not known (yet) to the hub", req.RequestID)
	}
	if err != nil {
		return nil, err
	}
	msg := "request " + req.RequestID + " is " + st.State
	if st.LastError != "" {
		msg += "; last error: " + st.LastError
	}
	if st.WaitReason != "" {
		msg += "; " + st.WaitReason
	}
	if !st.NextTry.IsZero() {
		msg += "; next attempt " + st.NextTry.Format(time.RFC3339)
	}
	return nil, shared.Errorf(shared.CodePending, "%s", msg)
}

func (h *Hub) onStatus(ctx context.Context, id string, data []byte) ([]byte, error) {
	var rep shared.StatusReport
	if err := shared.Decode(data, &rep); err != nil {
		return nil, err
	}
	if _, err := h.knownAgent(ctx, id); err != nil {
		return nil, err
	}
	capReport(&rep)
	if cut := capUnmanaged(&rep); cut > 0 {
		// Data, kept cut; the log says an agent sent what no correct
		// agent sends (flood-limited per agent, like every agent warning).
		h.log.Warn("agent status report: unmanaged certificate fields over the protocol's bounds were cut",
			"agent", id, "fields_cut", cut, "entries", len(rep.Unmanaged))
	}
	// Buffered (statuswriter.go): the answer does not wait for the write.
	now := time.Now().UTC()
	h.statusW.record(id, &statusPatch{report: &rep, reported: now, seen: now, connected: true})
	return shared.Encode(&shared.Ack{})
}
