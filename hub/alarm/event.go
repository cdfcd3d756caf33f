package alarm

import (
	"context"
	"time"
)

// Event states.
const (
	StateRaised   = "raised"
	StateResolved = "resolved"
)

// Event is what a channel is sent: a condition raised or resolved. Its JSON
// is the webhook body; the field names are stable.
type Event struct {
	Channel   string    `json:"channel"`
	State     string    `json:"state"` // raised or resolved
	Condition Condition `json:"condition"`
	// Hub is the zone of the hub that sent it, to tell hubs apart.
	Hub  string    `json:"hub"`
	Time time.Time `json:"time"`
}

// Sender delivers events to one channel.
type Sender interface {
	Send(ctx context.Context, ev Event) error
}

// Subject is a one-line summary, used as the mail subject.
func (ev Event) Subject() string {
	what := ev.Condition.Kind + " " + ev.Condition.Agent
	if ev.Condition.Cert != "" {
		what += "/" + ev.Condition.Cert
	}
	return "[certfleet] " + ev.State + ": " + what
}
