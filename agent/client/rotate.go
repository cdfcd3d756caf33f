package client

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/shared"
)

// flushTimeout bounds the wait for the server to take the answer to a
// credential renewal before the client reconnects.
const flushTimeout = 5 * time.Second

// renewCreds applies a credential renewal from the hub: it stores the JWT
// (UpdateCreds checks it is for this agent's key), answers with an Ack or
// an ErrorReply saying why not, and then reconnects. The server ends a
// connection when the JWT it was opened with expires, whatever the file
// holds by then, so the new JWT only counts from a new connection.
func (c *Client) renewCreds(m *nats.Msg, u *shared.CredsUpdate) {
	exp, changed, err := c.storeCreds(u.JWT)
	if err != nil {
		c.logger.Warn("refusing credentials from hub", "err", err)
		c.respond(m, shared.ErrorBody(err))
		return
	}
	c.respond(m, shared.MustEncode(&shared.Ack{}))
	if !changed {
		c.logger.Debug("hub sent the credentials already in use")
		return
	}
	// Make sure the server has the Ack before the connection goes: a
	// reconnect drops what the socket has not sent.
	nc := c.conn()
	if nc == nil {
		c.logger.Info("hub renewed the agent's credentials; they apply from the next connect")
		return
	}
	if err := nc.FlushTimeout(flushTimeout); err != nil {
		c.logger.Warn("flush before reconnecting with new credentials", "err", err)
	}
	attrs := []any{}
	if !exp.IsZero() {
		attrs = append(attrs, "expires", exp.UTC().Format(time.RFC3339))
	}
	if err := nc.ForceReconnect(); err != nil {
		c.logger.Warn("hub renewed the agent's credentials; they apply from the next reconnect", append(attrs, "err", err)...)
		return
	}
	c.logger.Info("hub renewed the agent's credentials; reconnecting with them", attrs...)
}

// storeCreds writes jwt into the credentials file. Its errors are
// *shared.Error, so the hub learns why: bad_request for a JWT the agent
// will not use, internal when the file cannot be written.
func (c *Client) storeCreds(jwt string) (time.Time, bool, error) {
	if c.credsFile == "" {
		return time.Time{}, false, shared.Errorf(shared.CodeBadRequest, "agent %s connects without a credentials file; nothing to renew", c.id)
	}
	exp, changed, err := UpdateCreds(c.credsFile, jwt, time.Now())
	switch {
	case errors.Is(err, ErrCredsRejected):
		return time.Time{}, false, shared.Errorf(shared.CodeBadRequest, "agent %s: %v", c.id, err)
	case err != nil:
		return time.Time{}, false, shared.Errorf(shared.CodeInternal, "agent %s could not store its credentials: %v", c.id, err)
	}
	return exp, changed, nil
}
