// Package state keeps what the agent knows about each certificate block
// across restarts: the installed certificate, the last attempt and its
// outcome, back-off, and the request in flight. It is one JSON file,
// replaced atomically on every change.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// Version is the state file format version.
const Version = 1

// maxStateSize bounds the state file read.
const maxStateSize = 16 << 20

// Last result values, as reported to the hub (shared.CertStatus).
const (
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultPending = "pending"
)

// State is the whole state file.
type State struct {
	Version      int              `json:"version"`
	AgentID      string           `json:"agent_id,omitempty"`
	Certificates map[string]*Cert `json:"certificates"`
	// Hub is the last path the agent reached its hub by.
	Hub *HubContact `json:"hub,omitempty"`
}

// HubContact records how and when the agent last connected to its hub.
type HubContact struct {
	Transport string    `json:"transport"`
	Connected time.Time `json:"connected"`
}

// Spec is what a certificate is requested for; a change to it means a
// new certificate is needed.
type Spec struct {
	Names   []string `json:"names"`
	KeyType string   `json:"key_type"`
	Profile string   `json:"profile,omitempty"`
}

// Equal compares specs, names as sets.
func (s Spec) Equal(o Spec) bool {
	return s.KeyType == o.KeyType && s.Profile == o.Profile && sameSet(s.Names, o.Names)
}

func sameSet(a, b []string) bool {
	x := slices.Clone(a)
	y := slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// Cert is the state of one certificate block.
type Cert struct {
	// Installed certificate.
	Spec      Spec      `json:"spec"`
	Serial    string    `json:"serial,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	// RenewAt is the hub's advice for the installed certificate.
	RenewAt   time.Time `json:"renew_at,omitzero"`
	Installed time.Time `json:"installed,omitzero"`

	// Last attempt.
	LastAttempt   time.Time `json:"last_attempt,omitzero"`
	LastResult    string    `json:"last_result,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorCode string    `json:"last_error_code,omitempty"`

	// Failures counts failed attempts since the last success (requests
	// the hub failed and installs that failed); RetryAt is when the next
	// request may start.
	Failures int       `json:"failures,omitempty"`
	RetryAt  time.Time `json:"retry_at,omitzero"`
	// LastSpec is what the last attempt asked for. When the
	// configuration no longer matches it, back-off and Blocked are reset.
	LastSpec *Spec `json:"last_spec,omitempty"`
	// Blocked is set when the last attempt failed with a permanent error:
	// no new request is made for LastSpec until the configuration changes
	// or a renew is asked for by hand.
	Blocked bool `json:"blocked,omitempty"`

	// LastReload is the outcome of the last reload after an install.
	LastReload *shared.ReloadResult `json:"last_reload,omitempty"`

	Pending *Pending `json:"pending,omitempty"`
}

// Pending is a request sent (or about to be sent) and not yet finished.
// Its private key waits in the state dir (see config.PendingKeyPath).
type Pending struct {
	RequestID string    `json:"request_id"`
	Spec      Spec      `json:"spec"`
	Reason    string    `json:"reason"`
	CSR       string    `json:"csr"`
	Replaces  string    `json:"replaces,omitempty"`
	Created   time.Time `json:"created"`
	// Published is set once the hub's stream acknowledged the request.
	Published   bool      `json:"published"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	// NextTry is when publishing, fetching or installing is tried again
	// after a failure.
	NextTry time.Time `json:"next_try,omitzero"`
	// Tries counts failed publishes or installs in a row.
	Tries int `json:"tries,omitempty"`
}

// New returns an empty state.
func New() *State {
	return &State{Version: Version, Certificates: map[string]*Cert{}}
}

// Cert returns the block's state, creating it if needed.
func (s *State) Cert(name string) *Cert {
	c := s.Certificates[name]
	if c == nil {
		c = &Cert{}
		s.Certificates[name] = c
	}
	return c
}

// Parse decodes and checks a state file.
func Parse(data []byte) (*State, error) {
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("parse state: %d bytes, limit %d", len(data), maxStateSize)
	}
	s := New()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("parse state: %w", err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("parse state: version %d, want %d", s.Version, Version)
	}
	if s.Certificates == nil {
		s.Certificates = map[string]*Cert{}
	}
	for name, c := range s.Certificates {
		if err := shared.ValidateCertName(name); err != nil {
			return nil, fmt.Errorf("parse state: %w", err)
		}
		if c == nil {
			delete(s.Certificates, name)
			continue
		}
		c.normalizeKeyTypes()
		if p := c.Pending; p != nil {
			if err := shared.ValidateRequestID(p.RequestID); err != nil {
				return nil, fmt.Errorf("parse state: certificate %q: pending %w", name, err)
			}
		}
	}
	return s, nil
}

// normalizeKeyTypes rewrites key types an older agent recorded in their
// old spelling (ecdsa-p256) to today's (ec256), as ParseConfig does for
// the configuration: the specs are compared with the configuration's, and
// a spelling change must not look like a new configuration (which would
// drop a pending request or reset back-off).
func (c *Cert) normalizeKeyTypes() {
	for _, sp := range []*Spec{&c.Spec, c.LastSpec, pendingSpec(c.Pending)} {
		if sp == nil {
			continue
		}
		if kt, _, ok := keytype.Canonical(sp.KeyType); ok {
			sp.KeyType = kt
		}
	}
}

func pendingSpec(p *Pending) *Spec {
	if p == nil {
		return nil
	}
	return &p.Spec
}

// Load reads the state file at path. A missing file is an empty state.
func Load(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Save writes the state file atomically with mode 0600.
func (s *State) Save(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := fsutil.WritePrivate(path, append(data, '\n')); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
