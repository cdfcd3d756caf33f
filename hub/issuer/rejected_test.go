package issuer

import (
	"fmt"
	"testing"

	"github.com/go-acme/lego/v5/acme"
)

func TestRejected(t *testing.T) {
	prob := func(typ string, subs ...string) error {
		pd := &acme.ProblemDetails{Type: typ, Detail: "no", HTTPStatus: 400}
		for _, s := range subs {
			pd.SubProblems = append(pd.SubProblems, acme.SubProblem{Type: s})
		}
		// As the issuer returns it: classified and wrapped.
		return classify("obtain", fmt.Errorf("finalize: %w", pd))
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"malformed", prob(acme.MalformedErrorType), true},
		{"rejected identifier", prob(acme.RejectedIdentifierErrorType), true},
		{"bad csr", prob(acme.BadCSRErrorType), true},
		{"caa", prob(acme.CaaErrorType), true},
		{"unsupported identifier", prob(acme.UnsupportedIdentifierErrorType), true},
		{"compound, all rejected", prob(acme.CompoundErrorType, acme.CaaErrorType, acme.RejectedIdentifierErrorType), true},
		{"compound, one transient", prob(acme.CompoundErrorType, acme.CaaErrorType, acme.DNSErrorType), false},
		{"compound, empty", prob(acme.CompoundErrorType), false},
		{"server internal", prob(acme.ServerInternalErrorType), false},
		{"dns", prob(acme.DNSErrorType), false},
		{"rate limited", prob(acme.RateLimitedErrorType), false},
		{"no problem", fmt.Errorf("plain"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := Rejected(tt.err); got != tt.want {
				t.Fatalf("Rejected(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestOverloaded(t *testing.T) {
	prob := func(typ string, status int) error {
		return classify("obtain", fmt.Errorf("new order: %w", &acme.ProblemDetails{Type: typ, Detail: "no", HTTPStatus: status}))
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"server internal", prob(acme.ServerInternalErrorType, 500), true},
		{"bare 503", prob("about:blank", 503), true},
		{"unreachable", fmt.Errorf("get directory: %w", ErrCAUnreachable), true},
		{"rate limited", classify("obtain", &acme.RateLimitedError{ProblemDetails: &acme.ProblemDetails{Type: acme.RateLimitedErrorType, HTTPStatus: 429}}), false},
		{"unauthorized", prob(acme.UnauthorizedErrorType, 403), false},
		{"plain", fmt.Errorf("plain"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Overloaded(tt.err); got != tt.want {
				t.Fatalf("Overloaded(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
