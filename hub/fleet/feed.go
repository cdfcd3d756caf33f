package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// pruneEvery is how often request states past the bucket's max age are
// dropped.
const pruneEvery = time.Minute

// Feed keeps a snapshot current from the store's watches. Several hubs may
// share one store: each has its own feed and snapshot, and a change any of
// them (or anything else) makes reaches every snapshot through the
// watches; a hub never writes its own snapshot.
type Feed struct {
	snap    *Snapshot
	watches []*store.Watch
	maxAge  time.Duration
}

// Open fills a new snapshot from st's agents, status, certs and requests
// buckets and returns once all four are replayed, so the first reader sees
// the whole fleet; the watches then follow every change until Close.
func Open(ctx context.Context, st *store.Store) (*Feed, error) {
	f := &Feed{snap: New(), maxAge: st.Options().ResultTTL}
	s := f.snap
	damaged := func(bucket string) func(key string, d *hub.Damaged) {
		return func(key string, d *hub.Damaged) { s.SetDamaged(bucket, key, d) }
	}
	s.beginLoad()
	starts := []func() (*store.Watch, error){
		func() (*store.Watch, error) {
			return st.WatchAgents(ctx, func(put bool, id string, a hub.Agent) {
				if put {
					s.PutAgent(a)
				} else {
					s.RemoveAgent(id)
				}
			}, damaged(store.BucketAgents))
		},
		func() (*store.Watch, error) {
			return st.WatchStatus(ctx, func(put bool, id string, v hub.AgentStatus) {
				if put {
					s.PutStatus(v)
				} else {
					s.RemoveStatus(id)
				}
			}, damaged(store.BucketStatus))
		},
		func() (*store.Watch, error) {
			return st.WatchCerts(ctx, func(put bool, _ string, c hub.CertRecord) {
				if put {
					s.PutCert(c)
				} else {
					s.RemoveCert(c.AgentID, c.CertName)
				}
			}, damaged(store.BucketCerts))
		},
		func() (*store.Watch, error) {
			return st.WatchRequests(ctx, func(put bool, _ string, q hub.RequestState) {
				if put {
					s.PutRequest(q)
				} else {
					s.RemoveRequest(q.AgentID, q.RequestID)
				}
			}, damaged(store.BucketRequests))
		},
	}
	for _, start := range starts {
		w, err := start()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("load the fleet: %w", err)
		}
		f.watches = append(f.watches, w)
	}
	s.endLoad()
	s.PruneRequests(time.Now().Add(-f.maxAge))
	return f, nil
}

// Snapshot is the view this feed keeps current.
func (f *Feed) Snapshot() *Snapshot { return f.snap }

// Run prunes expired request states until ctx ends (nil) or a watch ends
// (its error: the view would go stale, which the hub must not serve), and
// stops the watches either way.
func (f *Feed) Run(ctx context.Context) error {
	defer f.Close()
	ended := make(chan *store.Watch, len(f.watches))
	for _, w := range f.watches {
		go func() {
			select {
			case <-w.Done():
				ended <- w
			case <-ctx.Done():
			}
		}()
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case w := <-ended:
			if ctx.Err() != nil {
				return nil
			}
			err := w.Err()
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("fleet watch ended: %w", err)
		case <-t.C:
			f.snap.PruneRequests(time.Now().Add(-f.maxAge))
		}
	}
}

// Close stops the watches and waits for their callbacks to return. The
// snapshot stays readable, frozen as it was.
func (f *Feed) Close() {
	for _, w := range f.watches {
		w.Stop()
	}
}
