package natsauth

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// ConfigureServer sets up opts for operator mode: the operator as the only
// trusted operator, the system account, and a memory account resolver
// preloaded with the system, hub and agents account JWTs (revocations
// included). It fails with ErrExternal on an external Authority.
func (a *Authority) ConfigureServer(opts *server.Options) error {
	if a.External() {
		return fmt.Errorf("configure nats server: %w", ErrExternal)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &server.MemAccResolver{}
	if err := r.Store(a.sysPub, a.sysJWT); err != nil {
		return fmt.Errorf("configure nats server: store system account: %w", err)
	}
	if err := r.Store(a.accPub, a.accJWT); err != nil {
		return fmt.Errorf("configure nats server: store account: %w", err)
	}
	if err := r.Store(a.agentsPub, a.agentsJWT); err != nil {
		return fmt.Errorf("configure nats server: store agents account: %w", err)
	}
	opts.TrustedOperators = []*jwt.OperatorClaims{a.opClaims}
	opts.AccountResolver = r
	opts.SystemAccount = a.sysPub
	a.resolver = r
	return nil
}
