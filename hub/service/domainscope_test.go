package service

import (
	"strings"
	"testing"

	"github.com/certfleet/certfleet/shared"
)

func TestCheckDomainScope(t *testing.T) {
	const hubZone = "acme.example.com"
	tests := []struct {
		name     string
		domain   string
		zoneMode bool
		want     string // "" = accepted; else in the message
	}{
		{"own zone as zone", "acme.example.com", true, "hub's own zone"},
		{"own zone as name", "acme.example.com", false, "hub's own zone"},
		{"under own zone", "x.acme.example.com", true, "inside the hub's own zone"},
		{"under own zone, cname", "x.acme.example.com", false, "inside the hub's own zone"},
		{"parent zone", "example.com", true, "parent of the hub's own zone"},
		{"grandparent zone", "com.", true, "parent of the hub's own zone"},
		{"parent name, cname mode", "example.com", false, ""},
		{"sibling zone", "corp.example.com", true, ""},
		{"look-alike suffix", "xacme.example.com", true, ""},
		{"unrelated", "example.org", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDomainScope(shared.NormalizeName(tt.domain), hubZone, tt.zoneMode)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if shared.CodeOf(err) != shared.CodeInvalidName {
				t.Fatalf("code = %s", shared.CodeOf(err))
			}
		})
	}
}
