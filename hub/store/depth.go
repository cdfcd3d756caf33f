package store

import (
	"context"
	"fmt"

	"github.com/certfleet/certfleet/shared"
)

// QueueDepth returns how many requests the durable queue holds, waiting or
// being ordered (a work queue drops a request once it is acknowledged).
func (s *Store) QueueDepth(ctx context.Context) (uint64, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	st, err := s.js.Stream(cctx, shared.StreamRequests)
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	info, err := st.Info(cctx)
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return info.State.Msgs, nil
}
