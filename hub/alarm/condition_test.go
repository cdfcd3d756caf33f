package alarm

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/shared"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	off := false
	base := config.AlarmConfig{Name: "ops", ExpiringWithin: config.Duration(14 * day), FailedAttempts: 3, OfflineFor: config.Duration(2 * time.Hour)}
	cert := func(mod func(*shared.CertStatus)) shared.CertStatus {
		c := shared.CertStatus{Name: "web", NotBefore: now.Add(-30 * day), NotAfter: now.Add(60 * day), LastResult: "ok"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	status := func(lastSeen time.Time, certs ...shared.CertStatus) admin.StatusReply {
		return admin.StatusReply{Now: now, Agents: []hub.Agent{{ID: "web1", Created: now.Add(-10 * day)}},
			Status: []hub.AgentStatus{{AgentID: "web1", LastSeen: lastSeen, Report: shared.StatusReport{Certificates: certs}}}}
	}
	cases := []struct {
		name string
		ch   func(*config.AlarmConfig)
		r    admin.StatusReply
		want []string
	}{
		{"healthy", nil, status(now, cert(nil)), nil},
		{"expiring within 14 days", nil, status(now, cert(func(c *shared.CertStatus) { c.NotAfter = now.Add(13 * day) })), []string{"expiring/web1/web"}},
		{"expiring threshold per channel", func(a *config.AlarmConfig) { a.ExpiringWithin = config.Duration(7 * day) },
			status(now, cert(func(c *shared.CertStatus) { c.NotAfter = now.Add(13 * day) })), nil},
		{"expired", nil, status(now, cert(func(c *shared.CertStatus) { c.NotAfter = now.Add(-time.Hour) })), []string{"expiring/web1/web"}},
		{"failed twice is under the threshold", nil, status(now, cert(func(c *shared.CertStatus) { c.LastResult, c.Attempts = "failed", 2 })), nil},
		{"failed three times", nil, status(now, cert(func(c *shared.CertStatus) { c.LastResult, c.Attempts = "failed", 3 })), []string{"renewal_failed/web1/web"}},
		{"failures off", func(a *config.AlarmConfig) { a.FailedAttempts = -1 }, status(now, cert(func(c *shared.CertStatus) { c.LastResult, c.Attempts = "failed", 9 })), nil},
		{"reload failed", nil, status(now, cert(func(c *shared.CertStatus) { c.LastResult, c.LastErrorCode, c.Attempts = "failed", "reload_failed", 1 })), []string{"reload_failed/web1/web"}},
		{"reload failures off", func(a *config.AlarmConfig) { a.ReloadFailed = &off },
			status(now, cert(func(c *shared.CertStatus) { c.LastResult, c.LastErrorCode, c.Attempts = "failed", "reload_failed", 1 })), nil},
		{"offline", nil, status(now.Add(-3*time.Hour), cert(nil)), []string{"offline/web1/"}},
		{"offline threshold per channel", func(a *config.AlarmConfig) { a.OfflineFor = config.Duration(4 * time.Hour) }, status(now.Add(-3*time.Hour), cert(nil)), nil},
		{"unmanaged expiring", nil, withUnmanaged(status(now, cert(nil)), now.Add(10*day), now.Add(100*day)), []string{"unmanaged_expiring/web1//etc/ssl/u0.pem"}},
		{"unmanaged expired", nil, withUnmanaged(status(now, cert(nil)), now.Add(-day)), []string{"unmanaged_expiring/web1//etc/ssl/u0.pem"}},
		{"unmanaged threshold per channel", func(a *config.AlarmConfig) { a.ExpiringWithin = config.Duration(7 * day) },
			withUnmanaged(status(now, cert(nil)), now.Add(10*day)), nil},
		{"unmanaged off", func(a *config.AlarmConfig) { a.UnmanagedExpiring = &off }, withUnmanaged(status(now, cert(nil)), now.Add(-day)), nil},
		{"never connected", nil, admin.StatusReply{Now: now, Agents: []hub.Agent{{ID: "db1", Created: now.Add(-3 * time.Hour)}}}, []string{"offline/db1/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := base
			if tc.ch != nil {
				tc.ch(&ch)
			}
			var got []string
			for _, c := range Evaluate(ch, tc.r) {
				if c.Message == "" {
					t.Errorf("%s: no message", c.Key())
				}
				got = append(got, c.Key())
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("conditions %v, want %v", got, tc.want)
			}
		})
	}
}

// withUnmanaged adds unmanaged certificates expiring at the given times
// to r's first agent, at /etc/ssl/u<i>.pem.
func withUnmanaged(r admin.StatusReply, notAfter ...time.Time) admin.StatusReply {
	for i, na := range notAfter {
		r.Status[0].Report.Unmanaged = append(r.Status[0].Report.Unmanaged, shared.UnmanagedCert{
			Path: fmt.Sprintf("/etc/ssl/u%d.pem", i), Subject: "CN=legacy", NotAfter: na})
	}
	return r
}
