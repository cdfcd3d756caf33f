package shared

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// NewRequestID returns a random request id (26 characters, 130 bits).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
