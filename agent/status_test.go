package agent_test

import (
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

func TestCertStatuses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(10 * time.Minute)
	for _, tc := range []struct {
		name string
		cert *state.Cert
		want shared.CertStatus // Name and Names are filled in
	}{
		{name: "never tried"},
		{
			name: "transient failure",
			cert: &state.Cert{LastResult: state.ResultFailed, LastError: "slow down", LastErrorCode: "rate_limited", Failures: 2, RetryAt: later},
			want: shared.CertStatus{LastResult: "failed", LastError: "slow down", LastErrorCode: shared.CodeRateLimited, Attempts: 2, NextAttempt: later},
		},
		{
			name: "retry time passed",
			cert: &state.Cert{LastResult: state.ResultFailed, LastErrorCode: "ca_error", Failures: 1, RetryAt: now.Add(-time.Second)},
			want: shared.CertStatus{LastResult: "failed", LastErrorCode: shared.CodeCAError, Attempts: 1},
		},
		{
			name: "permanent failure",
			cert: &state.Cert{LastResult: state.ResultFailed, LastErrorCode: "name_not_allowed", Failures: 1, Blocked: true},
			want: shared.CertStatus{LastResult: "failed", LastErrorCode: shared.CodeNameNotAllowed, Attempts: 1, Blocked: true},
		},
		{
			name: "reload failed, install retried",
			cert: &state.Cert{LastResult: state.ResultFailed, LastErrorCode: "reload_failed", Failures: 1,
				Pending: &state.Pending{RequestID: "req1", Tries: 1, NextTry: later}},
			want: shared.CertStatus{LastResult: "failed", LastErrorCode: "reload_failed", Attempts: 1, NextAttempt: later, Pending: "req1"},
		},
		{
			name: "pending, waiting for the hub",
			cert: &state.Cert{LastResult: state.ResultPending, Pending: &state.Pending{RequestID: "req2", NextTry: later}},
			want: shared.CertStatus{LastResult: "pending", Pending: "req2"},
		},
		{
			name: "installed",
			cert: &state.Cert{Serial: "ab", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * time.Hour), LastResult: state.ResultOK, Installed: now},
			want: shared.CertStatus{Serial: "ab", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * time.Hour), RenewAt: now.Add(time.Hour), LastResult: "ok", Installed: now},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultConfig()
			cfg.Certificates = []config.Certificate{{Name: "web", Names: []string{"www.example.org"}}}
			st := state.New()
			if tc.cert != nil {
				st.Certificates["web"] = tc.cert
			}
			got := agent.CertStatuses(cfg, st, now)
			want := tc.want
			want.Name, want.Names = "web", cfg.Certificates[0].Names
			if len(got) != 1 || !sameStatus(got[0], want) {
				t.Fatalf("status\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func sameStatus(a, b shared.CertStatus) bool {
	return a.Name == b.Name && len(a.Names) == len(b.Names) && a.Serial == b.Serial &&
		a.NotBefore.Equal(b.NotBefore) && a.NotAfter.Equal(b.NotAfter) && a.RenewAt.Equal(b.RenewAt) &&
		a.LastAttempt.Equal(b.LastAttempt) && a.LastResult == b.LastResult && a.LastError == b.LastError &&
		a.LastErrorCode == b.LastErrorCode && a.NextAttempt.Equal(b.NextAttempt) && a.Attempts == b.Attempts &&
		a.Blocked == b.Blocked && a.Pending == b.Pending && a.Installed.Equal(b.Installed)
}
