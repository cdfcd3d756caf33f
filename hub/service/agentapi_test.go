package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

func TestAdmission(t *testing.T) {
	msg := func(subject, reply, corr string) *nats.Msg {
		m := nats.NewMsg(subject)
		m.Reply = reply
		if corr != "" {
			m.Header.Set(shared.CorrelationHeader, corr)
		}
		return m
	}
	cases := []struct {
		name   string
		m      *nats.Msg
		id     string
		reason string
	}{
		{"good", msg("agent.web1.up.hello", "", "abc123"), "web1", ""},
		{"reply subject", msg("agent.web1.up.hello", "$KV.certfleet_agents.bob", "abc123"), "web1", dropReply},
		{"service import reply", msg("agent.web1.up.hello", "_R_.abc.def", "abc123"), "web1", dropReply},
		{"no correlation", msg("agent.web1.up.hello", "", ""), "web1", dropCorrelation},
		{"bad correlation", msg("agent.web1.up.hello", "", "a.b"), "web1", dropCorrelation},
		{"down subject", msg("agent.web1.down.reply", "", "abc"), "", dropSubject},
		{"bad id", msg("agent.WEB.up.hello", "", "abc"), "", dropSubject},
		{"other subject", msg("certfleet.admin.status", "", "abc"), "", dropSubject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, corr, reason := admission(tc.m)
			if reason != tc.reason || id != tc.id {
				t.Fatalf("admission = %q, %q, %q; want id %q reason %q", id, corr, reason, tc.id, tc.reason)
			}
			if reason == "" && corr != tc.m.Header.Get(shared.CorrelationHeader) {
				t.Fatalf("correlation %q", corr)
			}
		})
	}
}

func TestAgentLimiter(t *testing.T) {
	l := newAgentLimiter(1, 3)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if !l.allow("a", t0) {
			t.Fatalf("message %d within the burst refused", i)
		}
	}
	if l.allow("a", t0) {
		t.Fatal("message past the burst allowed")
	}
	if !l.allow("b", t0) {
		t.Fatal("one agent's flood spent another agent's budget")
	}
	if !l.allow("a", t0.Add(time.Second)) {
		t.Fatal("the bucket did not refill")
	}
	l.prune(t0.Add(limiterIdle + 2*time.Second))
	if len(l.m) != 0 {
		t.Fatalf("%d idle buckets kept", len(l.m))
	}
}

func TestDropsLogBounded(t *testing.T) {
	var buf bytes.Buffer
	d := newDrops(slog.New(slog.NewTextHandler(&buf, nil)))
	t0 := time.Unix(1000, 0)
	for i := range 10000 {
		d.add("mallory", dropRate, "agent.mallory.up.hello", t0.Add(time.Duration(i)*time.Millisecond))
	}
	d.add("bob", dropReply, "agent.bob.up.hello\x1b[31m", t0)
	d.prune(t0.Add(time.Minute))
	if got := d.counts(); got[dropRate] != 10000 || got[dropReply] != 1 {
		t.Fatalf("counts %v", got)
	}
	lines := strings.Count(buf.String(), "\n")
	// 10 s of drops at one line per 10 s, a summary, and bob's line.
	if lines > 4 {
		t.Fatalf("%d log lines for one flood:\n%s", lines, buf.String())
	}
	if !strings.Contains(buf.String(), "more agent messages dropped") {
		t.Fatalf("suppressed drops not summarised:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Fatal("a control character from a subject reached the log")
	}
}

func TestWorkersKeepAgentOrder(t *testing.T) {
	w := newWorkers(4, 100, 1000, 0, nil)
	var mu sync.Mutex
	got := map[string][]int{}
	for i := range 100 {
		for _, id := range []string{"a", "b", "c"} {
			if err := w.submit(context.Background(), id, func() {
				mu.Lock()
				got[id] = append(got[id], i)
				mu.Unlock()
			}); err != nil {
				t.Fatalf("submit with room to spare: %v", err)
			}
		}
	}
	w.stop()
	for id, seq := range got {
		if len(seq) != 100 {
			t.Fatalf("agent %s: %d of 100 ran", id, len(seq))
		}
		for i, v := range seq {
			if v != i {
				t.Fatalf("agent %s ran out of order: %v", id, seq)
			}
		}
	}
	if err := w.submit(context.Background(), "a", func() {}); !errors.Is(err, errWorkersClosed) {
		t.Fatalf("submit after stop: %v, want errWorkersClosed", err)
	}
}

func TestWorkersAgentQueueFull(t *testing.T) {
	w := newWorkers(1, 10, 1000, 0, nil)
	block := make(chan struct{})
	started := make(chan struct{})
	if err := w.submit(context.Background(), "a", func() { close(started); <-block }); err != nil {
		t.Fatal(err)
	}
	<-started
	accepted, busy := 0, 0
	for range 15 {
		switch err := w.submit(context.Background(), "a", func() {}); {
		case err == nil:
			accepted++
		case errors.Is(err, errAgentBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	// Another agent is not affected by a's full queue.
	if err := w.submit(context.Background(), "b", func() {}); err != nil {
		t.Fatalf("agent b refused while a floods: %v", err)
	}
	close(block)
	w.stop()
	if accepted != 10 || busy != 5 {
		t.Fatalf("accepted %d, busy %d; want 10 and 5 with a queue of 10", accepted, busy)
	}
}

// TestWorkersFair: an agent with a long queue delays another agent's
// request by one of its own, not by its whole queue.
func TestWorkersFair(t *testing.T) {
	w := newWorkers(1, 100, 1000, 0, nil)
	block := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var order []string
	rec := func(s string) func() {
		return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
	}
	if err := w.submit(context.Background(), "a", func() { close(started); <-block }); err != nil {
		t.Fatal(err)
	}
	<-started
	for range 50 {
		if err := w.submit(context.Background(), "a", rec("a")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.submit(context.Background(), "b", rec("b")); err != nil {
		t.Fatal(err)
	}
	close(block)
	w.stop()
	if len(order) != 51 {
		t.Fatalf("%d of 51 ran", len(order))
	}
	if i := slices.Index(order, "b"); i > 1 {
		t.Fatalf("b ran after %d of a's requests; want at most 1", i)
	}
}

// TestWorkersBlockWhenFull: a full pool makes submit wait (backpressure)
// rather than drop, until a request finishes or the caller gives up.
func TestWorkersBlockWhenFull(t *testing.T) {
	w := newWorkers(1, 100, 2, 0, nil)
	block := make(chan struct{})
	started := make(chan struct{})
	if err := w.submit(context.Background(), "a", func() { close(started); <-block }); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := w.submit(context.Background(), "b", func() {}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.submit(ctx, "c", func() {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("submit to a full pool with a cancelled context: %v", err)
	}
	ran := make(chan struct{})
	submitted := make(chan error, 1)
	go func() { submitted <- w.submit(context.Background(), "c", func() { close(ran) }) }()
	select {
	case err := <-submitted:
		t.Fatalf("submit to a full pool returned at once: %v", err)
	case <-started:
	}
	close(block)
	if err := <-submitted; err != nil {
		t.Fatal(err)
	}
	<-ran
	w.stop()
}

func TestWorkersSkipExpired(t *testing.T) {
	var mu sync.Mutex
	var expired []string
	w := newWorkers(1, 100, 100, time.Minute, func(id string, waited time.Duration) {
		mu.Lock()
		expired = append(expired, id)
		mu.Unlock()
	})
	// The workers are stopped before the clock is read again by the test.
	var clock atomic.Int64
	start := time.Now()
	w.now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	block := make(chan struct{})
	started := make(chan struct{})
	if err := w.submit(context.Background(), "a", func() { close(started); <-block }); err != nil {
		t.Fatal(err)
	}
	<-started
	var ranLate atomic.Bool
	for _, id := range []string{"a", "b"} {
		if err := w.submit(context.Background(), id, func() { ranLate.Store(true) }); err != nil {
			t.Fatal(err)
		}
	}
	fresh := make(chan struct{})
	clock.Store(int64(2 * time.Minute))
	if err := w.submit(context.Background(), "c", func() { close(fresh) }); err != nil {
		t.Fatal(err)
	}
	close(block)
	<-fresh
	w.stop()
	if ranLate.Load() {
		t.Fatal("a request older than the expiry ran")
	}
	slices.Sort(expired)
	if !slices.Equal(expired, []string{"a", "b"}) {
		t.Fatalf("expired %v, want [a b]", expired)
	}
}

func TestCapReport(t *testing.T) {
	long := strings.Repeat("é", 2000)
	r := shared.StatusReport{AgentVersion: long, Hostname: long + "\xff", Certificates: []shared.CertStatus{{
		Names: []string{long}, LastError: long, LastResult: long, Serial: long, Pending: long, LastErrorCode: shared.Code(long),
	}}}
	capReport(&r)
	c := r.Certificates[0]
	for name, v := range map[string]struct {
		s   string
		max int
	}{
		"version": {r.AgentVersion, maxVersionLen}, "hostname": {r.Hostname, maxHostnameLen}, "name": {c.Names[0], maxHostnameLen},
		"last_error": {c.LastError, maxErrorLen}, "result": {c.LastResult, maxShortLen}, "serial": {c.Serial, maxShortLen},
		"pending": {c.Pending, maxShortLen}, "code": {string(c.LastErrorCode), maxShortLen},
	} {
		if len(v.s) > v.max+len("…") || !utf8.ValidString(v.s) {
			t.Errorf("%s: %d bytes (limit %d), valid UTF-8 %v", name, len(v.s), v.max, utf8.ValidString(v.s))
		}
	}
	if got := capText("short", 10); got != "short" {
		t.Errorf("capText changed a short string: %q", got)
	}
}

func TestAckWaiters(t *testing.T) {
	var w ackWaiters
	ch := w.add("web1", "c1")
	if w.deliver("mallory", "c1", []byte("forged")) {
		t.Fatal("an ack from another agent was taken")
	}
	if w.deliver("web1", "c2", []byte("x")) {
		t.Fatal("an ack with another correlation id was taken")
	}
	if !w.deliver("web1", "c1", []byte("ok")) {
		t.Fatal("the right ack was not taken")
	}
	if got := <-ch; string(got) != "ok" {
		t.Fatalf("got %q", got)
	}
	if w.deliver("web1", "c1", []byte("again")) {
		t.Fatal("a second ack was taken")
	}
}

func TestAgentHandlerPanicRecovered(t *testing.T) {
	var buf bytes.Buffer
	h := &Hub{log: slog.New(slog.NewTextHandler(&buf, nil))}
	body, err := h.callAgentHandler(t.Context(), func(ctx context.Context, id string, data []byte) ([]byte, error) {
		panic("boom")
	}, "web1", nil)
	if body != nil || shared.CodeOf(err) != shared.CodeInternal {
		t.Fatalf("panicking handler: %q, %v", body, err)
	}
	if !strings.Contains(buf.String(), "boom") || !strings.Contains(buf.String(), "recovered from a panic") {
		t.Fatalf("panic not logged:\n%s", buf.String())
	}
}

// TestNoRenewalOfRevokedKey: a key whose record says revoked (by any hub,
// at any time before) gets no renewed credentials: on an external NATS
// that is what ends a removed agent's access, and every hub must honour it.
func TestNoRenewalOfRevokedKey(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	ukp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ukp.PublicKey()
	if err := th.store.PutAgentKey(ctx, store.AgentKey{Key: pub, Agent: "web1", Issued: time.Now(), Revoked: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sub, err := th.nc.SubscribeSync(shared.Down("web1", shared.VerbCreds))
	if err != nil {
		t.Fatal(err)
	}
	// th.auth is nil: reaching the signing step would panic.
	th.sendCreds(ctx, hub.Agent{ID: "web1", NKey: pub, CredsExpire: time.Now().Add(time.Hour)})
	if err := th.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("credentials pushed for a revoked key: %s", m.Data)
	}
	if !strings.Contains(th.logs.String(), "not renewing revoked agent credentials") {
		t.Fatalf("refusal not logged:\n%s", th.logs.String())
	}
}
