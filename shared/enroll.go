package shared

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TypeEnrollment is the type of an enrollment bundle.
const TypeEnrollment = "io.certfleet.v1.enrollment"

// EnrollmentTokenPrefix starts an enrollment token (the bundle as one line).
const EnrollmentTokenPrefix = "cfenroll1_"

// Enrollment is everything an agent needs to connect to its hub. It holds
// the agent's secret (the nkey seed in Creds): the hub writes it once and
// keeps no copy; the agent stores it with 0600 permissions.
type Enrollment struct {
	Type    string `json:"type"`
	AgentID string `json:"agent_id"`
	// URLs are the NATS server URLs (tls://host:port, nats:// only for tests).
	URLs []string `json:"urls"`
	// Creds is a NATS credentials file (user JWT and nkey seed).
	Creds string `json:"creds"`
	// CA is the PEM CA bundle the NATS server certificate chains to; empty to
	// use the system roots.
	CA      string    `json:"ca,omitempty"`
	Created time.Time `json:"created"`
}

// Validate checks an enrollment bundle.
func (e *Enrollment) Validate() error {
	if e.Type != TypeEnrollment {
		return fmt.Errorf("enrollment: type %q, want %q", e.Type, TypeEnrollment)
	}
	if err := ValidateAgentID(e.AgentID); err != nil {
		return fmt.Errorf("enrollment: agent_id: %w", err)
	}
	if len(e.URLs) == 0 {
		return fmt.Errorf("enrollment: urls: none")
	}
	if !strings.Contains(e.Creds, "NATS USER JWT") || !strings.Contains(e.Creds, "USER NKEY SEED") {
		return fmt.Errorf("enrollment: creds: not a NATS credentials file")
	}
	return nil
}

// Token encodes the bundle as one line, to paste instead of copying a file.
func (e *Enrollment) Token() (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode enrollment: %w", err)
	}
	return EnrollmentTokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseEnrollment reads a bundle from a file's contents (JSON) or a token.
func ParseEnrollment(data []byte) (*Enrollment, error) {
	s := strings.TrimSpace(string(data))
	if len(s) > MaxMessageSize {
		return nil, fmt.Errorf("parse enrollment: %d bytes, limit %d", len(s), MaxMessageSize)
	}
	raw := []byte(s)
	if strings.HasPrefix(s, EnrollmentTokenPrefix) {
		b, err := base64.RawURLEncoding.DecodeString(s[len(EnrollmentTokenPrefix):])
		if err != nil {
			return nil, fmt.Errorf("parse enrollment token: %w", err)
		}
		raw = b
	}
	var e Enrollment
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("parse enrollment: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}
