package natsauth

import (
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
)

func TestPruneRevocations(t *testing.T) {
	now := time.Now()
	ac := jwt.NewAccountClaims("AXXX")
	ac.RevokeAt("UOLD", now.Add(-MaxAgentTTL-2*time.Hour))
	ac.RevokeAt("URECENT", now.Add(-MaxAgentTTL+time.Hour))
	ac.RevokeAt(jwt.All, now.Add(-2*MaxAgentTTL))
	pruneRevocations(ac, now)
	cases := []struct {
		key  string
		kept bool
	}{
		{"UOLD", false},   // every JWT it covered has expired
		{"URECENT", true}, // a JWT it covers may still be valid
		{jwt.All, true},   // never dropped
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			if _, ok := ac.Revocations[tc.key]; ok != tc.kept {
				t.Fatalf("kept = %v, want %v", ok, tc.kept)
			}
		})
	}
}
