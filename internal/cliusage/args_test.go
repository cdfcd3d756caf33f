package cliusage

import (
	"slices"
	"testing"
)

func TestParseUse(t *testing.T) {
	for _, tc := range []struct {
		name, use          string
		required, optional []string
		variadic           bool
	}{
		{"none", "status", nil, nil, false},
		{"one", "remove NAME", []string{"NAME"}, nil, false},
		{"flag with value first", "add NAME --allow PATTERN...", []string{"NAME"}, nil, false},
		{"flag value with choices", "add NAME --role admin|readonly", []string{"NAME"}, nil, false},
		{"optional", "renew AGENT [CERT]", []string{"AGENT"}, []string{"CERT"}, false},
		{"optional variadic", "check [NAME...]", nil, []string{"NAME"}, true},
		{"alternatives", "enroll FILE|TOKEN", []string{"FILE|TOKEN"}, nil, false},
		{"flag then variadic", "revoke --out DIR USERKEY...", []string{"USERKEY"}, nil, true},
		{"optional flag group", "relay --listen ADDR --to HUB:PORT [--proxy URL]", nil, nil, false},
		{"flag choice group", "import (--sqlite FILE | --postgres DSN)", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ParseUse(tc.use)
			if !slices.Equal(p.Required, tc.required) || !slices.Equal(p.Optional, tc.optional) || p.Variadic != tc.variadic {
				t.Errorf("ParseUse(%q) = %+v, want required %v optional %v variadic %v", tc.use, p, tc.required, tc.optional, tc.variadic)
			}
		})
	}
}
