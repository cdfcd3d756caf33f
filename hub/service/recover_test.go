package service

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

func TestSafely(t *testing.T) {
	th := newTestHub(t)
	if th.safely("calm", func() {}) {
		t.Fatal("no panic reported as one")
	}
	if !th.safely("storm", func() { panic("boom") }) {
		t.Fatal("panic not reported")
	}
	if l := th.logs.String(); !strings.Contains(l, "boom") || !strings.Contains(l, "storm") || !strings.Contains(l, "recover_test.go") {
		t.Fatalf("log lacks the panic, its place or its stack:\n%s", l)
	}
}

// TestRequestPanicKeepsServing: a request whose handling panics is
// terminated, audited and failed for its agent, and the hub goes on to
// serve the next request.
func TestRequestPanicKeepsServing(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	var panics atomic.Int32
	requestHook = func(msg jetstream.Msg) {
		var req shared.CertRequest
		if shared.Decode(msg.Data(), &req) == nil && req.RequestID == "panic00001" {
			panics.Add(1)
			panic("injected panic for " + req.RequestID)
		}
	}
	t.Cleanup(func() { requestHook = nil })
	th.consume(t)

	publish := func(id string) {
		t.Helper()
		b, err := shared.Encode(&shared.CertRequest{RequestID: id, CertName: "web", CSR: "x", Created: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := th.js.Publish(ctx, shared.QueueSubject("ghost"), b, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	result := func(id string) (shared.CertResult, bool) {
		res, err := th.store.GetResult(ctx, "ghost", id)
		return res, err == nil
	}

	publish("panic00001")
	eventually(t, 10*time.Second, "a failed result for the panicked request", func() bool { _, ok := result("panic00001"); return ok })
	res, _ := result("panic00001")
	if res.Status != shared.StatusFailed || res.Error == nil || res.Error.Code != shared.CodeInternal {
		t.Fatalf("panicked request result = %+v", res)
	}

	// The hub still serves: the next request is handled (and refused,
	// since agent "ghost" is not registered).
	publish("after00001")
	eventually(t, 10*time.Second, "the next request handled", func() bool { _, ok := result("after00001"); return ok })
	if res, _ := result("after00001"); res.Error == nil || res.Error.Code != shared.CodeUnknownAgent {
		t.Fatalf("next request result = %+v", res)
	}

	// Terminated, not redelivered: nothing pending, the panic happened once.
	cons := th.store.RequestConsumer()
	eventually(t, 10*time.Second, "the queue drained", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	if n := panics.Load(); n != 1 {
		t.Fatalf("request handled %d times, want once", n)
	}
	evs, _, err := th.store.ReadAudit(ctx, store.AuditFilter{Agent: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.Kind == store.AuditFailed && ev.RequestID == "panic00001" && strings.Contains(ev.Detail, "panic") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit event for the panic in %+v", evs)
	}
	if l := th.logs.String(); !strings.Contains(l, "injected panic for panic00001") || !strings.Contains(l, "goroutine") {
		t.Fatalf("panic not logged with its stack:\n%s", l)
	}
}
