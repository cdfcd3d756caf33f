package agent

import (
	"context"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// fakeConn is a hubConn that is only ever asked whether it is connected.
type fakeConn struct{ up bool }

func (f fakeConn) Connected() bool { return f.up }
func (fakeConn) Transport() string { return "" }
func (fakeConn) Hello(context.Context, *shared.Hello) (*shared.HelloReply, error) {
	panic("not used")
}
func (fakeConn) PublishCertRequest(context.Context, *shared.CertRequest) error { panic("not used") }
func (fakeConn) Fetch(context.Context, string) (*shared.CertResult, error)     { panic("not used") }
func (fakeConn) ReportStatus(context.Context, *shared.StatusReport) error      { panic("not used") }

func TestNextDue(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nb, na := now.Add(-time.Hour), now.Add(5*time.Hour) // default renewal: nb + 4h
	defRenew := nb.Add(4 * time.Hour)
	advice := now.Add(30 * time.Minute)
	installed := func() *state.Cert { return &state.Cert{NotBefore: nb, NotAfter: na} }
	with := func(f func(*state.Cert)) *state.Cert { c := installed(); f(c); return c }
	blocks := []string{"a", "b"}
	for _, tc := range []struct {
		name        string
		certs       map[string]*state.Cert
		connected   bool
		only        map[string]bool
		renewBefore time.Duration
		want        time.Time // zero: nothing scheduled
	}{
		{name: "nothing known", certs: map[string]*state.Cert{}},
		{name: "default renewal", certs: map[string]*state.Cert{"a": installed()}, want: defRenew},
		{name: "hub advice", certs: map[string]*state.Cert{"a": with(func(c *state.Cert) { c.RenewAt = advice })}, want: advice},
		{name: "renew_before wins", renewBefore: 2 * time.Hour, certs: map[string]*state.Cert{"a": with(func(c *state.Cert) { c.RenewAt = advice })}, want: na.Add(-2 * time.Hour)},
		{name: "earliest block", certs: map[string]*state.Cert{
			"a": installed(),
			"b": with(func(c *state.Cert) { c.RenewAt = advice }),
		}, want: advice},
		{name: "retry after a failure with no certificate", certs: map[string]*state.Cert{"a": {RetryAt: now.Add(time.Minute), Failures: 1}}, want: now.Add(time.Minute)},
		{name: "retry later than renewal", certs: map[string]*state.Cert{"a": with(func(c *state.Cert) { c.RenewAt = advice; c.RetryAt = advice.Add(time.Minute) })}, want: advice.Add(time.Minute)},
		{name: "past retry does not hide renewal", certs: map[string]*state.Cert{"a": with(func(c *state.Cert) { c.RetryAt = now.Add(-time.Minute) })}, want: defRenew},
		{name: "blocked", certs: map[string]*state.Cert{"a": with(func(c *state.Cert) { c.Blocked = true })}},
		{name: "pending while connected", connected: true, certs: map[string]*state.Cert{"a": with(func(c *state.Cert) {
			c.Pending = &state.Pending{RequestID: "r", NextTry: now.Add(10 * time.Second)}
		})}, want: now.Add(10 * time.Second)},
		{name: "pending while offline waits for the reconnect", certs: map[string]*state.Cert{"a": with(func(c *state.Cert) {
			c.Pending = &state.Pending{RequestID: "r", NextTry: now.Add(10 * time.Second)}
		})}},
		{name: "pending hides the renewal it replaces", connected: true, certs: map[string]*state.Cert{"a": {
			NotBefore: nb, NotAfter: na, RenewAt: now.Add(-time.Hour),
			Pending: &state.Pending{RequestID: "r", NextTry: now.Add(time.Hour)},
		}}, want: now.Add(time.Hour)},
		{name: "renew once ignores other blocks", only: map[string]bool{"b": true}, certs: map[string]*state.Cert{
			"a": with(func(c *state.Cert) { c.RenewAt = advice }),
			"b": installed(),
		}, want: defRenew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultConfig()
			for _, n := range blocks {
				b := config.Certificate{Name: n, Names: []string{n + ".example.org"}}
				b.RenewBefore.Duration = tc.renewBefore
				cfg.Certificates = append(cfg.Certificates, b)
			}
			st := state.New()
			for n, c := range tc.certs {
				st.Certificates[n] = c
			}
			a := &Agent{cfg: cfg, opts: Options{Now: func() time.Time { return now }}, loopState: &loopState{
				st: st, hub: fakeConn{tc.connected}, only: tc.only,
			}}
			got, ok := a.nextDue()
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Fatalf("next due %s (scheduled %v), want %s", got, ok, tc.want)
			}
		})
	}
}
