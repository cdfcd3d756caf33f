package service

import (
	"fmt"
	"testing"

	"github.com/go-acme/lego/v5/acme"

	"github.com/certfleet/certfleet/shared"
)

// TestClassifyCARejections: problems the CA would give again for the same
// request are permanent, so the hub does not retry them; transient ones
// stay retried.
func TestClassifyCARejections(t *testing.T) {
	tests := []struct {
		typ  string
		code shared.Code
	}{
		{acme.MalformedErrorType, shared.CodeCARejected},
		{acme.RejectedIdentifierErrorType, shared.CodeCARejected},
		{acme.BadCSRErrorType, shared.CodeCARejected},
		{acme.CaaErrorType, shared.CodeCARejected},
		{acme.UnsupportedIdentifierErrorType, shared.CodeCARejected},
		{acme.ServerInternalErrorType, shared.CodeCAError},
		{acme.DNSErrorType, shared.CodeCAError},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			err := fmt.Errorf("obtain: finalize: %w", &acme.ProblemDetails{Type: tt.typ, Detail: "refused", HTTPStatus: 400})
			got := shared.CodeOf(classify(err))
			if got != tt.code {
				t.Fatalf("classify = %s, want %s", got, tt.code)
			}
			if got.Permanent() != (tt.code == shared.CodeCARejected) {
				t.Fatalf("%s permanent = %v", got, got.Permanent())
			}
		})
	}
}
