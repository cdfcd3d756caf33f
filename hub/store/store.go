package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/shared"
)

// Bucket and consumer names.
const (
	BucketAgents     = "certfleet_agents"
	BucketDomains    = "certfleet_domains"
	BucketCerts      = "certfleet_certs"
	BucketResults    = "certfleet_results"
	BucketRequests   = "certfleet_requests"
	BucketStatus     = "certfleet_status"
	BucketChallenges = "certfleet_challenges"
	BucketAgentKeys  = "certfleet_agent_keys"
	BucketACME       = "certfleet_acme_accounts"
	BucketACMEDNS    = "certfleet_acmedns"
	BucketTSIG       = "certfleet_tsig"
	BucketPacing     = "certfleet_pacing"
	BucketWaiting    = "certfleet_waiting"
	// ConsumerName is the hub's durable pull consumer on shared.StreamRequests.
	ConsumerName = "hub"
)

// Defaults for zero Options fields.
const (
	DefaultTimeout = 5 * time.Second
	// DefaultWriteRetry outlasts a leader election (seconds) with room.
	DefaultWriteRetry  = 30 * time.Second
	DefaultConcurrency = 4
	// MaxWaiting bounds the requests handed out and not yet acknowledged
	// (the consumer's MaxAckPending), across every hub: orders in flight,
	// requests backing off before a retry, and a dead hub's requests until
	// AckWait passes. Far above any issuance concurrency, so waiting
	// requests never block the ones that could be ordered now.
	MaxWaiting           = 10000
	DefaultAckWait       = 10 * time.Minute
	DefaultResultTTL     = 30 * 24 * time.Hour
	DefaultChallengeTTL  = time.Hour
	DefaultAuditMaxAge   = 400 * 24 * time.Hour
	DefaultAuditMaxBytes = 1 << 30
	// RequestDuplicates is how long a request id is remembered by the
	// requests stream: a re-published request within it is not queued twice.
	RequestDuplicates = 24 * time.Hour
	// MaxQueuedPerAgent bounds one agent's unprocessed requests, so a broken
	// or hostile agent cannot fill the hub's disk. The queue has one subject
	// per agent, so a full queue refuses only that agent's requests.
	MaxQueuedPerAgent = 1000
	// pacingMaxAge expires a CA budget not spent from for longer than
	// its longest period (a week): it is full again, as a missing one.
	pacingMaxAge = 8 * 24 * time.Hour
	// challengeMaxAge backstops challenges whose TTL marker was missed.
	challengeMaxAge = 24 * time.Hour
	// challengeMarkerTTL keeps the removal marker of an expired or deleted
	// challenge long enough for a briefly disconnected watcher to see it.
	challengeMarkerTTL = time.Hour
)

// Options tune Open. Zero fields take the defaults above.
type Options struct {
	// Replicas of every bucket and stream (1 on a single node, 3 on a
	// cluster).
	Replicas int
	// Concurrency is the hub's issuance concurrency. It no longer bounds
	// the consumer: requests waiting for a retry or their agent's turn stay
	// unacknowledged, and must not take the slots of requests that could
	// be ordered now (MaxWaiting bounds them instead).
	Concurrency int
	// AckWait: an unacknowledged request is redelivered after this long.
	// Long orders keep their request with HoldRequest.
	AckWait time.Duration
	// Timeout bounds each JetStream call.
	Timeout time.Duration
	// LeaseTTL is how long a lease (and a hub's entry among the running
	// hubs) outlives its holder's last renewal; renew well within it.
	LeaseTTL time.Duration
	// WriteRetry bounds the retries of a write that failed for a passing
	// reason (see Passing), e.g. through a stream's leader election after
	// a NATS node died: writes give up after about this long.
	WriteRetry time.Duration
	// ResultTTL is how long results and request states are kept for
	// agents that were offline, and how long a request may wait in the
	// queue unprocessed.
	ResultTTL time.Duration
	// ChallengeTTL removes a challenge nobody deleted (a crashed order).
	ChallengeTTL time.Duration
	// AuditMaxAge and AuditMaxBytes bound the audit stream; the oldest
	// events go first.
	AuditMaxAge   time.Duration
	AuditMaxBytes int64
}

func (o *Options) setDefaults() error {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return fmt.Errorf("replicas %d: want 1 to 5", o.Replicas)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	def(&o.AckWait, DefaultAckWait)
	def(&o.Timeout, DefaultTimeout)
	def(&o.WriteRetry, DefaultWriteRetry)
	def(&o.LeaseTTL, DefaultLeaseTTL)
	def(&o.ResultTTL, DefaultResultTTL)
	def(&o.ChallengeTTL, DefaultChallengeTTL)
	def(&o.AuditMaxAge, DefaultAuditMaxAge)
	if o.AuditMaxBytes <= 0 {
		o.AuditMaxBytes = DefaultAuditMaxBytes
	}
	if o.AckWait < time.Second {
		return fmt.Errorf("ack wait %v: want at least 1s", o.AckWait)
	}
	if o.ChallengeTTL < time.Second {
		return fmt.Errorf("challenge ttl %v: want at least 1s", o.ChallengeTTL)
	}
	return nil
}

// Store is the hub's JetStream persistence. It is safe for concurrent use.
type Store struct {
	js   jetstream.JetStream
	opts Options

	agents, domains, certs, results, requests, status, challenges, agentKeys, acme, acmedns, tsig, alarms, users jetstream.KeyValue
	pacing, waiting, leases                                                                                      jetstream.KeyValue

	consumer jetstream.Consumer
}

// Open creates or updates every bucket, stream and the request consumer,
// so it is safe to call on every start and after a configuration change.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{js: js, opts: opts}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&s.agents, jetstream.KeyValueConfig{Bucket: BucketAgents, Description: "registered agents"}},
		{&s.domains, jetstream.KeyValueConfig{Bucket: BucketDomains, Description: "names and zones whose challenges the hub answers"}},
		{&s.certs, jetstream.KeyValueConfig{Bucket: BucketCerts, Description: "latest certificate per agent certificate block"}},
		{&s.results, jetstream.KeyValueConfig{Bucket: BucketResults, Description: "request results kept for offline agents", TTL: opts.ResultTTL}},
		{&s.requests, jetstream.KeyValueConfig{Bucket: BucketRequests, Description: "certificate request states", TTL: opts.ResultTTL}},
		{&s.status, jetstream.KeyValueConfig{Bucket: BucketStatus, Description: "latest agent status reports"}},
		{&s.agentKeys, jetstream.KeyValueConfig{Bucket: BucketAgentKeys, Description: "every NATS user key issued to an agent, for revocation"}},
		{&s.acme, jetstream.KeyValueConfig{Bucket: BucketACME, Description: "ACME account keys and registrations, shared by the hubs"}},
		{&s.users, jetstream.KeyValueConfig{Bucket: BucketUsers, Description: "web dashboard users (bcrypt hashes and roles)"}},
		{&s.alarms, jetstream.KeyValueConfig{Bucket: BucketAlarms, Description: "alarm conditions each [[alarm]] channel was sent"}},
		{&s.challenges, jetstream.KeyValueConfig{
			Bucket: BucketChallenges, Description: "live DNS-01 challenge TXT records",
			TTL: challengeMaxAge, LimitMarkerTTL: challengeMarkerTTL,
		}},
		{&s.acmedns, jetstream.KeyValueConfig{Bucket: BucketACMEDNS, Description: "acme-dns API registrations and their TXT values"}},
		{&s.tsig, jetstream.KeyValueConfig{Bucket: BucketTSIG, Description: "TSIG keys for RFC 2136 updates of challenge records"}},
		{&s.pacing, jetstream.KeyValueConfig{Bucket: BucketPacing, Description: "CA rate-limit budgets, shared by the hubs", TTL: pacingMaxAge}},
		{&s.waiting, jetstream.KeyValueConfig{Bucket: BucketWaiting, Description: "requests waiting outside the queue for a CA budget or Retry-After", TTL: opts.ResultTTL}},
		{&s.leases, jetstream.KeyValueConfig{Bucket: BucketLeases, Description: "which hub does the work only one hub may do, and which hubs run", TTL: opts.LeaseTTL}},
	}
	for _, b := range buckets {
		b.cfg.History = 1
		b.cfg.Storage = jetstream.FileStorage
		b.cfg.Replicas = opts.Replicas
		err := s.retrying(ctx, func(cctx context.Context) error {
			kv, err := js.CreateOrUpdateKeyValue(cctx, b.cfg)
			*b.kv = kv
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("open store: bucket %s: %w", b.cfg.Bucket, err)
		}
	}

	streams := []jetstream.StreamConfig{{
		Name:                 shared.StreamRequests,
		Description:          "accepted certificate requests, a work queue the hub writes (one subject per agent)",
		Subjects:             []string{shared.SubjectQueue + ".*"},
		Retention:            jetstream.WorkQueuePolicy,
		Storage:              jetstream.FileStorage,
		Replicas:             opts.Replicas,
		Duplicates:           RequestDuplicates,
		MaxAge:               opts.ResultTTL,
		MaxMsgSize:           shared.MaxMessageSize,
		MaxMsgsPerSubject:    MaxQueuedPerAgent,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
	}, {
		Name:        shared.StreamAudit,
		Description: "certfleet audit log",
		Subjects:    []string{shared.SubjectAudit + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		MaxAge:      opts.AuditMaxAge,
		MaxBytes:    opts.AuditMaxBytes,
		MaxMsgSize:  64 << 10,
		Discard:     jetstream.DiscardOld,
	}}
	for _, cfg := range streams {
		err := s.retrying(ctx, func(cctx context.Context) error {
			_, err := js.CreateOrUpdateStream(cctx, cfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("open store: stream %s: %w", cfg.Name, err)
		}
	}

	var cons jetstream.Consumer
	err := s.retrying(ctx, func(cctx context.Context) (err error) {
		cons, err = js.CreateOrUpdateConsumer(cctx, shared.StreamRequests, jetstream.ConsumerConfig{
			Durable:       ConsumerName,
			Description:   "the hub's certificate request workers",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       opts.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: MaxWaiting,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open store: consumer %s: %w", ConsumerName, err)
	}
	s.consumer = cons
	return s, nil
}

// openWithin bounds Open's retries of JetStream calls that fail because
// JetStream is not available for the moment: a cluster electing leaders or
// a node catching up after a restart answers late or not at all for a few
// seconds, and a hub starting then must not give up.
const openWithin = time.Minute

// retrying is retryFor for Open's calls.
func (s *Store) retrying(ctx context.Context, fn func(context.Context) error) error {
	return s.retryFor(ctx, openWithin, fn)
}

// retryFor runs fn, each call bounded by the call timeout, again after a
// growing pause while it fails for a passing reason, for up to within.
func (s *Store) retryFor(ctx context.Context, within time.Duration, fn func(context.Context) error) error {
	deadline := time.Now().Add(within)
	pause := 100 * time.Millisecond
	for {
		cctx, cancel := s.callCtx(ctx)
		err := fn(cctx)
		cancel()
		if err == nil || ctx.Err() != nil || !Passing(err) || time.Now().Add(pause).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// writing runs the write fn like retrying, for up to Options.WriteRetry:
// a stream whose leader died elects another within seconds, and a hub must
// not lose what it was recording meanwhile. A write
// that timed out may have been stored anyway: fn must be safe to repeat
// (a plain put, a de-duplicated publish), or its caller must expect a
// revision check to fail on its own earlier write.
func (s *Store) writing(ctx context.Context, fn func(context.Context) error) error {
	return s.retryFor(ctx, s.opts.WriteRetry, fn)
}

// Passing reports whether a JetStream call failed because JetStream could
// not answer for the moment (no answer in time, nobody to answer, the
// cluster unavailable: a stream electing a leader after a NATS node died)
// rather than refused the request. Trying again soon may work.
func Passing(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.Code == 503 || api.Code == 408
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse)
}

// callCtx bounds one JetStream call.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }
