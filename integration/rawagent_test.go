package integration

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// agentRequest sends body on agent id's up.<verb> subject with a fresh
// correlation id, as the agent does, and returns the hub's answer from
// agent.<id>.down.reply. It is how a raw nats.go client holding real agent
// credentials talks to the hub in these tests.
func agentRequest(nc *nats.Conn, id, verb string, body []byte, timeout time.Duration) (*nats.Msg, error) {
	sub, err := nc.SubscribeSync(shared.Down(id, shared.VerbReply))
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	corr := hex.EncodeToString(b[:])
	out := nats.NewMsg(shared.Up(id, verb))
	out.Header.Set(shared.CorrelationHeader, corr)
	out.Data = body
	if err := nc.PublishMsg(out); err != nil {
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
