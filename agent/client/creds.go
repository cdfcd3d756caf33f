package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/agent/internal/fsutil"
)

// maxJWTSize bounds a user JWT (the protocol allows 16 KiB).
const maxJWTSize = 16 << 10

// FormatCreds writes a NATS credentials file: the user JWT and the nkey
// seed in the decorated format nats.UserCredentials reads.
func FormatCreds(jwt string, seed []byte) []byte {
	return []byte("-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
		"************************* IMPORTANT *************************\n" +
		"NKEY Seed printed below can be used to sign and prove identity.\n" +
		"NKEYs are sensitive and should be treated as secrets.\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n\n" +
		"*************************************************************\n")
}

// Claims is the part of a user JWT the agent checks.
type Claims struct {
	Subject string `json:"sub"`
	Name    string `json:"name"`
	Expires int64  `json:"exp"`
	NATS    struct {
		Type string `json:"type"`
	} `json:"nats"`
}

// ParseJWTClaims decodes a JWT's claims without checking its signature
// (only the NATS server can; the agent checks whom it is for).
func ParseJWTClaims(jwt string) (*Claims, error) {
	if len(jwt) > maxJWTSize {
		return nil, fmt.Errorf("parse jwt: %d bytes, limit %d", len(jwt), maxJWTSize)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("parse jwt: want three dot-separated parts")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("parse jwt: claims: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("parse jwt: claims: %w", err)
	}
	return &c, nil
}

// CheckUserJWT checks that jwt is a user JWT for public key pub that has
// not expired at now, and returns its expiry (zero if none).
func CheckUserJWT(jwt, pub string, now time.Time) (time.Time, error) {
	c, err := ParseJWTClaims(jwt)
	if err != nil {
		return time.Time{}, err
	}
	if c.Subject != pub {
		return time.Time{}, fmt.Errorf("jwt is for %q, not this agent's key %q", c.Subject, pub)
	}
	if c.NATS.Type != "" && c.NATS.Type != "user" {
		return time.Time{}, fmt.Errorf("jwt is a %q jwt, not a user jwt", c.NATS.Type)
	}
	var exp time.Time
	if c.Expires > 0 {
		exp = time.Unix(c.Expires, 0)
		if !now.Before(exp) {
			return exp, fmt.Errorf("jwt expired at %s", exp.UTC().Format(time.RFC3339))
		}
	}
	return exp, nil
}

// ReadCreds reads a credentials file and returns its JWT and key pair.
func ReadCreds(path string) (string, nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read credentials: %w", err)
	}
	jwt, err := nkeys.ParseDecoratedJWT(data)
	if err != nil {
		return "", nil, fmt.Errorf("parse credentials %s: %w", path, err)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return "", nil, fmt.Errorf("parse credentials %s: %w", path, err)
	}
	return jwt, kp, nil
}

// ErrCredsRejected marks credentials from the hub that the agent will not
// use: not a user JWT, for another key, expired, or malformed.
var ErrCredsRejected = errors.New("credentials rejected")

// UpdateCreds replaces the JWT in the credentials file at path, keeping
// its seed, after checking the JWT is for that seed's key. It returns the
// new JWT's expiry and whether the file changed (a JWT the file already
// holds is not written again). A JWT that fails the check wraps
// ErrCredsRejected and leaves the file alone.
func UpdateCreds(path, jwt string, now time.Time) (time.Time, bool, error) {
	old, kp, err := ReadCreds(path)
	if err != nil {
		return time.Time{}, false, err
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("credentials public key: %w", err)
	}
	exp, err := CheckUserJWT(jwt, pub, now)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: %w", ErrCredsRejected, err)
	}
	if jwt == old {
		return exp, false, nil
	}
	seed, err := kp.Seed()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("credentials seed: %w", err)
	}
	if err := fsutil.WritePrivate(path, FormatCreds(jwt, seed)); err != nil {
		return time.Time{}, false, fmt.Errorf("write credentials: %w", err)
	}
	return exp, true, nil
}
