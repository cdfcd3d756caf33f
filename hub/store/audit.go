package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// AuditKind says what happened. It is the last token of the event's
// subject, "certfleet.audit.<kind>".
type AuditKind string

// Audit kinds.
const (
	AuditEnrolled      AuditKind = "enrolled"
	AuditRemoved       AuditKind = "removed"
	AuditRequested     AuditKind = "requested"
	AuditIssued        AuditKind = "issued"
	AuditRefused       AuditKind = "refused"
	AuditFailed        AuditKind = "failed"
	AuditRevoked       AuditKind = "revoked"
	AuditRevokeFailed  AuditKind = "revoke_failed"
	AuditDomainAdded   AuditKind = "domain_added"
	AuditDomainRemoved AuditKind = "domain_removed"
	// acme-dns API registrations and RFC 2136 TSIG keys.
	AuditACMEDNSRegistered AuditKind = "acmedns_registered"
	AuditACMEDNSRemoved    AuditKind = "acmedns_removed"
	AuditTSIGAdded         AuditKind = "tsig_added"
	AuditTSIGRemoved       AuditKind = "tsig_removed"
)

// AuditKinds lists every kind.
var AuditKinds = []AuditKind{
	AuditEnrolled, AuditRemoved, AuditRequested, AuditIssued, AuditRefused,
	AuditFailed, AuditRevoked, AuditRevokeFailed, AuditDomainAdded, AuditDomainRemoved,
	AuditACMEDNSRegistered, AuditACMEDNSRemoved, AuditTSIGAdded, AuditTSIGRemoved,
}

// Bounds on what one audit event carries.
const (
	maxAuditDetail = 2000 // bytes
	// DefaultAuditLimit is how many events ReadAudit returns at most when
	// the filter sets no limit.
	DefaultAuditLimit = 1000
)

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	Time      time.Time `json:"time"`
	Kind      AuditKind `json:"kind"`
	Agent     string    `json:"agent,omitempty"`
	CertName  string    `json:"cert_name,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Names     []string  `json:"names,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func knownKind(k AuditKind) bool {
	for _, x := range AuditKinds {
		if k == x {
			return true
		}
	}
	return false
}

// Audit appends ev to the audit stream and waits for it to be stored. A
// zero Time is set to now; an overlong Detail is cut.
func (s *Store) Audit(ctx context.Context, ev AuditEvent) error {
	if !knownKind(ev.Kind) {
		return fmt.Errorf("audit: unknown kind %q", ev.Kind)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if len(ev.Names) > shared.MaxNames {
		return fmt.Errorf("audit %s: %d names, limit %d", ev.Kind, len(ev.Names), shared.MaxNames)
	}
	ev.Detail = truncate(ev.Detail, maxAuditDetail)
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("audit %s: %w", ev.Kind, err)
	}
	// Retried through a leader election under one message id, so the
	// stream stores it once. An event about a request has the same id
	// whoever writes it: a request finished again after its state could
	// not be recorded (or by another hub) is audited once.
	id := auditMsgID(ev)
	err = s.writing(ctx, func(cctx context.Context) error {
		_, err := s.js.Publish(cctx, shared.SubjectAudit+"."+string(ev.Kind), b, jetstream.WithMsgID(id))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", ev.Kind, err)
	}
	return nil
}

// auditMsgID is the de-duplication id of ev: kind, agent and request for
// an event about a request, else random.
func auditMsgID(ev AuditEvent) string {
	if ev.RequestID != "" {
		return string(ev.Kind) + "." + ev.Agent + "." + ev.RequestID
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// AuditFilter selects audit events. Zero fields match everything.
type AuditFilter struct {
	Agent string
	Since time.Time // events at or after
	// Limit caps the result to the newest Limit matches (0 means
	// DefaultAuditLimit).
	Limit int
}

// ReadAudit returns the matching events, oldest first: when more match
// than the limit, the newest ones. It reads the stream as it was when
// called; later events are not waited for. Events that are not readable
// audit events (undecodable, unknown kind, no time) come second, keyed by
// stream sequence, whatever the filter (their agent is unknown), at most
// the limit, newest kept; they never fail the read.
func (s *Store) ReadAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, []hub.Damaged, error) {
	if f.Agent != "" {
		if err := shared.ValidateAgentID(f.Agent); err != nil {
			return nil, nil, fmt.Errorf("read audit: %w", err)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	st, err := s.auditState(ctx)
	if err != nil {
		return nil, nil, err
	}
	if st.Msgs == 0 || (!f.Since.IsZero() && st.LastTime.Before(f.Since)) {
		return nil, nil, nil
	}

	cfg := auditConsumer(s.opts.Timeout)
	switch {
	case !f.Since.IsZero():
		since := f.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	case f.Agent == "" && st.LastSeq-st.FirstSeq+1 > uint64(limit):
		// Only the newest limit events can be returned: start there.
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = st.LastSeq - uint64(limit) + 1
	}
	var out []AuditEvent
	var damaged []hub.Damaged
	err = s.scanAudit(ctx, cfg, st.LastSeq, func(seq uint64, ev AuditEvent, err error) bool {
		if err != nil {
			damaged = append(damaged, damagedAudit(seq, err))
			if len(damaged) >= 2*limit {
				damaged = append(damaged[:0:0], damaged[len(damaged)-limit:]...)
			}
			return false
		}
		if !f.matches(ev) {
			return false
		}
		out = append(out, ev)
		// Keep memory bounded on long scans: only the newest limit count.
		if len(out) >= 2*limit {
			out = append(out[:0:0], out[len(out)-limit:]...)
		}
		return false
	})
	if err != nil {
		return nil, nil, err
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	if len(damaged) > limit {
		damaged = damaged[len(damaged)-limit:]
	}
	return out, damaged, nil
}

// AuditEntry is an audit event and its position in the log (its stream
// sequence).
type AuditEntry struct {
	Seq   uint64
	Event AuditEvent
}

// ReadAuditAfter pages through the log forward: it returns, oldest first,
// the first f.Limit events (0 means DefaultAuditLimit) matching f whose
// position is after after (0 for the start of the log), and the damaged
// events met on the way (at most as many). more says the read stopped at
// the limit: the next page starts after the last entry returned. It reads
// the stream as it was when called.
func (s *Store) ReadAuditAfter(ctx context.Context, f AuditFilter, after uint64) (entries []AuditEntry, damaged []hub.Damaged, more bool, err error) {
	if f.Agent != "" {
		if err := shared.ValidateAgentID(f.Agent); err != nil {
			return nil, nil, false, fmt.Errorf("read audit: %w", err)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	st, err := s.auditState(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if st.Msgs == 0 || after >= st.LastSeq || (!f.Since.IsZero() && st.LastTime.Before(f.Since)) {
		return nil, nil, false, nil
	}
	cfg := auditConsumer(s.opts.Timeout)
	if after == 0 && !f.Since.IsZero() {
		since := f.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	} else if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	err = s.scanAudit(ctx, cfg, st.LastSeq, func(seq uint64, ev AuditEvent, err error) bool {
		if seq <= after {
			return false
		}
		if err != nil {
			if len(damaged) < limit {
				damaged = append(damaged, damagedAudit(seq, err))
			}
			return false
		}
		if !f.matches(ev) {
			return false
		}
		if len(entries) == limit {
			more = true
			return true
		}
		entries = append(entries, AuditEntry{Seq: seq, Event: ev})
		return false
	})
	if err != nil {
		return nil, nil, false, err
	}
	return entries, damaged, more, nil
}

func (f AuditFilter) matches(ev AuditEvent) bool {
	return (f.Agent == "" || ev.Agent == f.Agent) && (f.Since.IsZero() || !ev.Time.Before(f.Since))
}

func damagedAudit(seq uint64, err error) hub.Damaged {
	return hub.Damaged{Store: shared.StreamAudit, Key: strconv.FormatUint(seq, 10), Error: truncate(err.Error(), maxDamagedError)}
}

// auditState is the audit stream's state now.
func (s *Store) auditState(ctx context.Context) (jetstream.StreamState, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	stream, err := s.js.Stream(cctx, shared.StreamAudit)
	var info *jetstream.StreamInfo
	if err == nil {
		info, err = stream.Info(cctx)
	}
	if err != nil {
		return jetstream.StreamState{}, fmt.Errorf("read audit: %w", err)
	}
	return info.State, nil
}

// auditConsumer is the configuration of a one-off reader of the whole
// audit stream; the caller sets where it starts.
func auditConsumer(timeout time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckNonePolicy,
		FilterSubject: shared.SubjectAudit + ".>",
		MemoryStorage: true,
		// Removed by the server soon after the last fetch, should our
		// delete fail.
		InactiveThreshold: 2*timeout + time.Second,
	}
}

// scanAudit reads the stream with a consumer made from cfg, up to lastSeq,
// handing visit every event (or why it is not a readable event) in order
// until visit returns true.
func (s *Store) scanAudit(ctx context.Context, cfg jetstream.ConsumerConfig, lastSeq uint64, visit func(seq uint64, ev AuditEvent, err error) (stop bool)) error {
	cctx, cancel := s.callCtx(ctx)
	cons, err := s.js.CreateConsumer(cctx, shared.StreamAudit, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("read audit: %w", err)
	}
	defer func() {
		cctx, cancel := s.callCtx(context.WithoutCancel(ctx))
		defer cancel()
		_ = s.js.DeleteConsumer(cctx, shared.StreamAudit, cons.CachedInfo().Name)
	}()

	// A pull waits until its batch is full, so ask for exactly what is
	// pending: every fetch then returns at once.
	remaining := cons.CachedInfo().NumPending
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		n := min(remaining, 256)
		batch, err := cons.Fetch(int(n), jetstream.FetchMaxWait(s.opts.Timeout))
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		got, done := uint64(0), false
		for msg := range batch.Messages() {
			got++
			if done {
				continue // drain the batch
			}
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("read audit: %w", err)
			}
			seq := meta.Sequence.Stream
			if seq >= lastSeq {
				done = true
			}
			if seq > lastSeq {
				continue
			}
			ev, err := decodeAuditEvent(msg.Data())
			if visit(seq, ev, err) {
				done = true
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		// Events aged out meanwhile end the read short, not in a loop.
		if done || got == 0 {
			break
		}
		remaining -= min(got, remaining)
	}
	return nil
}

// decodeAuditEvent decodes one stored event and refuses what no hub wrote:
// an unknown kind or no time.
func decodeAuditEvent(b []byte) (AuditEvent, error) {
	var ev AuditEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return AuditEvent{}, fmt.Errorf("decode event: %w", err)
	}
	if !knownKind(ev.Kind) {
		return AuditEvent{}, fmt.Errorf("foreign event: unknown kind %q", ev.Kind)
	}
	if ev.Time.IsZero() {
		return AuditEvent{}, errors.New("foreign event: no time")
	}
	return ev, nil
}
