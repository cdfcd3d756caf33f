package service

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// queueGroup lets several hubs on one NATS cluster share agent requests.
const queueGroup = "certfleet-hub"

// subscribeAgents answers the agents' request subjects.
func (h *Hub) subscribeAgents(ctx context.Context) error {
	handlers := map[string]func(context.Context, string, *nats.Msg) ([]byte, error){
		shared.SubjectAllHello:  h.onHello,
		shared.SubjectAllFetch:  h.onFetch,
		shared.SubjectAllStatus: h.onStatus,
	}
	for subj, fn := range handlers {
		fn := fn
		_, err := h.nc.QueueSubscribe(subj, queueGroup, func(m *nats.Msg) {
			id, _, _, ok := shared.ParseSubject(m.Subject)
			if !ok {
				h.log.Warn("agent message on malformed subject", "subject", m.Subject)
				return
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			body, err := fn(rctx, id, m)
			if err != nil {
				if shared.CodeOf(err) == shared.CodeInternal {
					h.log.Error("agent request failed", "agent", id, "subject", m.Subject, "err", err)
				} else {
					h.log.Warn("agent request refused", "agent", id, "subject", m.Subject, "err", err)
				}
				body = shared.ErrorBody(err)
			}
			if m.Reply != "" {
				_ = m.Respond(body)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) knownAgent(ctx context.Context, id string) (hub.Agent, error) {
	a, err := h.store.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, shared.Errorf(shared.CodeUnknownAgent, "agent %q is not registered with this hub", id)
	}
	return a, err
}

func (h *Hub) onHello(ctx context.Context, id string, m *nats.Msg) ([]byte, error) {
	var req shared.Hello
	if err := shared.Decode(m.Data, &req); err != nil {
		return nil, err
	}
	a, err := h.knownAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	h.touch(ctx, id, func(s *hub.AgentStatus) {
		s.Report.AgentVersion = req.AgentVersion
		if req.Hostname != "" {
			s.Report.Hostname = req.Hostname
		}
	})
	if h.credsDue(a, time.Now()) {
		// Back after a while: its JWT is due; renew it once the hello is answered.
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.sendCreds(context.WithoutCancel(ctx), a)
		}()
	}
	reply := &shared.HelloReply{HubVersion: h.version, Protocol: shared.ProtocolVersion, ServerTime: time.Now().UTC()}
	if !a.CredsExpire.IsZero() {
		t := a.CredsExpire
		reply.CredsExpire = &t
	}
	return shared.Encode(reply)
}

func (h *Hub) onFetch(ctx context.Context, id string, m *nats.Msg) ([]byte, error) {
	var req shared.FetchRequest
	if err := shared.Decode(m.Data, &req); err != nil {
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
	if !st.NextTry.IsZero() {
		msg += "; next attempt " + st.NextTry.Format(time.RFC3339)
	}
	return nil, shared.Errorf(shared.CodePending, "%s", msg)
}

func (h *Hub) onStatus(ctx context.Context, id string, m *nats.Msg) ([]byte, error) {
	var rep shared.StatusReport
	if err := shared.Decode(m.Data, &rep); err != nil {
		return nil, err
	}
	if _, err := h.knownAgent(ctx, id); err != nil {
		return nil, err
	}
	if err := h.store.PutStatus(ctx, hub.AgentStatus{AgentID: id, Report: rep, LastSeen: time.Now().UTC(), Connected: true}); err != nil {
		return nil, err
	}
	return shared.Encode(&shared.Ack{})
}

// touch records that the agent was seen, keeping its last report.
func (h *Hub) touch(ctx context.Context, id string, mod func(*hub.AgentStatus)) {
	s, err := h.store.GetStatus(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	s.AgentID = id
	s.LastSeen = time.Now().UTC()
	s.Connected = true
	if mod != nil {
		mod(&s)
	}
	if err := h.store.PutStatus(ctx, s); err != nil {
		h.log.Warn("record agent status", "agent", id, "err", err)
	}
}
