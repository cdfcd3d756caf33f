package clitest

import (
	"reflect"
	"testing"
)

func TestInvocations(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     [][]string
	}{
		{"plain", "  tool agent add web1 --allow www.example.org", [][]string{{"tool", "agent", "add", "web1", "--allow", "www.example.org"}}},
		{"quotes", `tool add --allow '*.corp.example.org' "a b" c\ d`, [][]string{{"tool", "add", "--allow", "*.corp.example.org", "a b", "c d"}}},
		{"lines and comment", "tool a   # first\ntool b", [][]string{{"tool", "a"}, {"tool", "b"}}},
		{"continuation", "tool a \\\n  --x y", [][]string{{"tool", "a", "--x", "y"}}},
		{"pipe and redirect", `printf '%s\n' "$P" | tool user add bob < pw > out 2>&1`, [][]string{{"printf", `%s\n`, "$P"}, {"tool", "user", "add", "bob"}}},
		{"assignment", "NATS_URL=tls://h:4222 tool status", [][]string{{"tool", "status"}}},
		{"substitution", `tool revoke --json $(tool list --json | jq -r .k)`, [][]string{{"tool", "list", "--json"}, {"jq", "-r", ".k"}, {"tool", "revoke", "--json", "SUBST"}}},
		{"process substitution", "source <(tool completion bash)", [][]string{{"tool", "completion", "bash"}, {"source", "SUBST"}}},
		{"and", "tool a && tool b", [][]string{{"tool", "a"}, {"tool", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Invocations(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Invocations(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
