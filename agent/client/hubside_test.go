package client

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// respondAgent answers an agent request the way the hub does: on the
// agent's down.reply subject with the request's correlation id.
func respondAgent(hub *nats.Conn, m *nats.Msg, body []byte) {
	agent, _, _, _ := shared.ParseSubject(m.Subject)
	out := nats.NewMsg(shared.Down(agent, shared.VerbReply))
	out.Header.Set(shared.CorrelationHeader, m.Header.Get(shared.CorrelationHeader))
	out.Data = body
	_ = hub.PublishMsg(out)
}

// hubRequest sends a hub request to an agent (subject agent.<id>.down.<verb>)
// with a correlation id and waits for the agent's ack on agent.<id>.up.ack.
func hubRequest(hub *nats.Conn, subject string, data []byte, timeout time.Duration) (*nats.Msg, error) {
	agent, _, _, ok := shared.ParseSubject(subject)
	if !ok {
		return nil, errors.New("bad subject")
	}
	sub, err := hub.SubscribeSync(shared.Up(agent, shared.VerbAck))
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	corr := newCorrelation()
	out := nats.NewMsg(subject)
	out.Header.Set(shared.CorrelationHeader, corr)
	out.Data = data
	if err := hub.PublishMsg(out); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if m.Header.Get(shared.CorrelationHeader) == corr {
			return m, nil
		}
	}
}
