package store

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/certfleet/certfleet/shared"
)

// challengeKeyRe: challenge keys are opaque ids chosen by the caller (a
// hash of name and value); one token of KV key characters.
var challengeKeyRe = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,128}$`)

func agentKey(id string) (string, error) {
	if err := shared.ValidateAgentID(id); err != nil {
		return "", err
	}
	return id, nil
}

// domainKey normalizes a domain name and checks it: a DNS name, no
// wildcard. Its LDH labels and dots are valid KV key characters.
func domainKey(name string) (string, error) {
	n := shared.NormalizeName(name)
	if strings.Contains(n, "*") {
		return "", shared.Errorf(shared.CodeInvalidName, "domain %q: no wildcards; add the base name", name)
	}
	if err := shared.ValidateDNSName(n); err != nil {
		return "", err
	}
	return n, nil
}

// certToken turns a certificate block name into key characters. Block
// names may hold dots; a name with ".." or a trailing dot cannot be a KV
// key as is, so such names have every dot written as "=" ('=' never occurs
// in a block name, so the mapping stays one-to-one).
func certToken(cert string) (string, error) {
	if err := shared.ValidateCertName(cert); err != nil {
		return "", err
	}
	if strings.Contains(cert, "..") || strings.HasSuffix(cert, ".") {
		return strings.ReplaceAll(cert, ".", "="), nil
	}
	return cert, nil
}

func certKey(agent, cert string) (string, error) {
	a, err := agentKey(agent)
	if err != nil {
		return "", err
	}
	c, err := certToken(cert)
	if err != nil {
		return "", err
	}
	return a + "." + c, nil
}

func requestKey(agent, reqID string) (string, error) {
	a, err := agentKey(agent)
	if err != nil {
		return "", err
	}
	if err := shared.ValidateRequestID(reqID); err != nil {
		return "", err
	}
	return a + "." + reqID, nil
}

func challengeKey(key string) (string, error) {
	if !challengeKeyRe.MatchString(key) {
		return "", fmt.Errorf("challenge key %q: want 1-128 characters of [A-Za-z0-9_=-]", key)
	}
	return key, nil
}
