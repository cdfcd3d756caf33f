package admin

import "github.com/certfleet/certfleet/hub"

// TSIG key verbs (RFC 2136 updates).
const (
	VerbTSIGAdd    = "tsig.add"
	VerbTSIGList   = "tsig.list"
	VerbTSIGRemove = "tsig.remove"
)

// TSIGAddRequest creates a key allowed to change _acme-challenge TXT
// records under Allow.
type TSIGAddRequest struct {
	Name      string   `json:"name"`
	Allow     []string `json:"allow"`
	Algorithm string   `json:"algorithm,omitempty"` // hmac-sha256 (default) or hmac-sha512
}

// TSIGAddReply carries the key with its secret, shown once.
type TSIGAddReply struct {
	Key hub.TSIGKey `json:"key"`
}

// TSIGEntry is a key as listed (no secret).
type TSIGEntry struct {
	Name      string   `json:"name"`
	Algorithm string   `json:"algorithm"`
	Allow     []string `json:"allow"`
}

// TSIGList lists keys.
type TSIGList struct {
	Keys []TSIGEntry `json:"keys"`
}
