package shared

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Codes are never renamed or
// reused; new ones may be added.
type Code string

const (
	CodeBadRequest         Code = "bad_request"         // malformed or oversized message
	CodeUnsupportedVersion Code = "unsupported_version" // unknown message type or version
	CodeUnknownAgent       Code = "unknown_agent"       // agent not registered or removed
	CodeBadCSR             Code = "bad_csr"             // CSR does not parse or signature invalid
	CodeWeakKey            Code = "weak_key"            // key type or size not acceptable
	CodeInvalidName        Code = "invalid_name"        // not a valid DNS name
	CodeIPNotAllowed       Code = "ip_not_allowed"      // IP addresses are never issued
	CodeDuplicateName      Code = "duplicate_name"      // a name appears twice
	CodeTooManyNames       Code = "too_many_names"      // more names than the hub allows
	CodeNameNotAllowed     Code = "name_not_allowed"    // name outside the agent's allow list
	CodeNameNotDelegated   Code = "name_not_delegated"  // no delegation for the name's challenge
	CodeUnknownProfile     Code = "unknown_profile"     // CA does not offer the profile
	CodeRateLimited        Code = "rate_limited"        // CA rate limit; retry after RetryAfter
	CodeCAError            Code = "ca_error"            // the CA refused or failed the order
	CodePending            Code = "pending"             // request accepted, not finished yet
	CodeNotFound           Code = "not_found"           // no such request or result
	CodeInternal           Code = "internal"            // hub-side failure; retried by the hub
	CodeThrottled          Code = "throttled"           // over the hub's per-agent limits; retry later

	// CodeNameNotNormalised: a CSR name differs from its normal form (upper
	// case, spaces, a trailing dot, a non-ASCII look-alike such as U+212A,
	// any other non-LDH character, an IDNA label that is not a valid
	// A-label). The hub never repairs a name: the CA would see the raw one,
	// not the one checked. Permanent.
	CodeNameNotNormalised Code = "name_not_normalised"
	// CodeBadCSRExtension: the CSR asks for an extension an end-entity
	// certificate must not carry (basicConstraints CA:TRUE, keyUsage
	// keyCertSign or cRLSign, nameConstraints). Permanent.
	CodeBadCSRExtension Code = "bad_csr_extension"
	// CodeCARejected: the CA refused the request with a problem it gives
	// again for the same request (malformed, rejectedIdentifier, badCSR,
	// caa, unsupportedIdentifier), so the hub does not retry. Permanent.
	CodeCARejected Code = "ca_rejected"
)

// Error is a protocol error: a stable code and a message for humans that
// says exactly what is wrong (which name, which field, which record).
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or
// CodeInternal.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeInternal
}

// Permanent reports whether retrying the same request can never succeed
// without an operator changing something.
func (c Code) Permanent() bool {
	switch c {
	case CodeRateLimited, CodeCAError, CodeInternal, CodePending, CodeNameNotDelegated, CodeThrottled:
		return false
	}
	return true
}
