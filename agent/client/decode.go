package client

import (
	"fmt"

	"github.com/certfleet/certfleet/shared"
)

// decodeDown decodes a message the hub sent on one of the agent's down
// subjects into *shared.CertResult, *shared.RenewCommand or
// *shared.CredsUpdate. Anything else (other agents' subjects, unknown
// verbs, malformed or invalid bodies) is an error.
func decodeDown(agentID, subject string, data []byte) (shared.Message, error) {
	id, dir, verb, ok := shared.ParseSubject(subject)
	if !ok || id != agentID || dir != "down" {
		return nil, fmt.Errorf("unexpected subject %q", subject)
	}
	var m shared.Message
	switch verb {
	case shared.VerbResult:
		m = &shared.CertResult{}
	case shared.VerbRenew:
		m = &shared.RenewCommand{}
	case shared.VerbCreds:
		m = &shared.CredsUpdate{}
	default:
		return nil, fmt.Errorf("unknown verb %q on %s", verb, subject)
	}
	if err := shared.Decode(data, m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", subject, err)
	}
	return m, nil
}
