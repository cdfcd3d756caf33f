package service

import "time"

// A hub that restarts loses every agent at once, and every agent comes
// back within its first reconnect delay. Thousands of TLS handshakes and
// authentications in the same second overload the NATS server (its
// connection setup shares one lock), they time out, and the agents back off
// further: at 10,000 agents the fleet took minutes to return. Each agent is
// told how long a window to spread its first reconnect over, sized so that
// the fleet returns at about reconnectRate connections a second.
const (
	// reconnectRate is the connection rate the spread aims for: well
	// within what one hub core sets up (TLS, JWT check, hello).
	reconnectRate = 500
	// maxReconnectSpread bounds the window, and with it how long a single
	// agent waits to retry after a blip.
	maxReconnectSpread = 2 * time.Minute
)

// reconnectSpread is the window for a fleet of n agents: none below
// reconnectRate agents (the agent's own back-off does), n/reconnectRate
// seconds above, at most maxReconnectSpread.
func reconnectSpread(n int) time.Duration {
	if n <= reconnectRate {
		return 0
	}
	return min(time.Duration(n)*time.Second/reconnectRate, maxReconnectSpread)
}
