package service

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/hub/pace"
)

func TestRegisteredDomains(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		want  []string
	}{
		{"one host", []string{"www.example.org"}, []string{"example.org"}},
		{"two hosts, one domain", []string{"a.example.org", "b.c.example.org", "example.org"}, []string{"example.org"}},
		{"two-label suffix", []string{"new.blog.example.co.uk"}, []string{"example.co.uk"}},
		{"wildcard", []string{"*.corp.example.org"}, []string{"example.org"}},
		{"several domains, sorted", []string{"x.example.org", "y.example.net"}, []string{"example.net", "example.org"}},
		{"a public suffix itself", []string{"co.uk"}, []string{"co.uk"}},
		{"case and trailing dot", []string{"WWW.Example.ORG."}, []string{"example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := registeredDomains(tc.names); !slices.Equal(got, tc.want) {
				t.Fatalf("registeredDomains(%v) = %v, want %v", tc.names, got, tc.want)
			}
		})
	}
}

func TestSpendsFor(t *testing.T) {
	zero, no := 0, false
	h := &Hub{cfg: config.DefaultConfig()}
	h.cfg.CA = append(h.cfg.CA,
		config.CAConfig{Name: "own", Directory: "https://ca.example.org/dir"},
		config.CAConfig{Name: "counted", Directory: config.LetsEncryptProduction,
			RateLimits: config.CALimits{RenewalsExempt: &no, CertsPerDomainPerWeek: &zero}})
	names := []string{"a.example.org", "b.example.net"}
	keys := func(ss []pace.Spend) []string {
		var out []string
		for _, s := range ss {
			out = append(out, fmt.Sprintf("%s@%v", s.Key, s.Share))
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		ca      string
		renewal bool
		want    []string
	}{
		{"Let's Encrypt first issuance: the account and each domain", "letsencrypt", false,
			[]string{"orders.letsencrypt@1", "domain.letsencrypt.example.net@1", "domain.letsencrypt.example.org@1"}},
		{"Let's Encrypt renewal: exempt", "letsencrypt", true, nil},
		{"a CA without known limits", "own", false, nil},
		{"renewals counted: first issuances leave the reserve", "counted", false, []string{"orders.counted@0.8"}},
		{"renewals counted: a renewal may use it all", "counted", true, []string{"orders.counted@1"}},
		{"unknown CA", "nope", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(h.spendsFor(tc.ca, names, tc.renewal)); !slices.Equal(got, tc.want) {
				t.Fatalf("spends %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPaceSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want pace.Signal
	}{
		{"issued", nil, pace.Success},
		{"unreachable", fmt.Errorf("order: %w", issuer.ErrCAUnreachable), pace.Overloaded},
		{"rate limited without Retry-After", fmt.Errorf("order: %w", issuer.ErrRateLimited), pace.RateLimited},
		{"challenge failed", fmt.Errorf("order: %w", issuer.ErrChallengeFailed), pace.NoSignal},
		{"other", errors.New("record order: no store"), pace.NoSignal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, at := paceSignal(tc.err); got != tc.want || !at.IsZero() {
				t.Fatalf("paceSignal = %v, %v; want %v", got, at, tc.want)
			}
		})
	}
}

func TestPaceSignalRetryAfter(t *testing.T) {
	err := fmt.Errorf("new order: %w", &acme.RateLimitedError{
		ProblemDetails: &acme.ProblemDetails{Type: acme.RateLimitedErrorType, HTTPStatus: 429}, RetryAfter: time.Minute})
	sig, at := paceSignal(err)
	if sig != pace.RateLimited || time.Until(at) < 50*time.Second || time.Until(at) > time.Minute {
		t.Fatalf("paceSignal = %v, retry at %v; want RateLimited about a minute ahead", sig, at)
	}
}

func TestSameNameSet(t *testing.T) {
	for _, tc := range []struct {
		a, b []string
		want bool
	}{
		{[]string{"a.example.org", "b.example.org"}, []string{"B.example.org", "a.example.org"}, true},
		{[]string{"a.example.org"}, []string{"a.example.org", "b.example.org"}, false},
		{nil, nil, false},
	} {
		if got := sameNameSet(tc.a, tc.b); got != tc.want {
			t.Errorf("sameNameSet(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
