package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCLITokenEnroll: the real binaries, end to end: `agent add --token
// --json` prints the enrollment token in JSON, and `certfleet-agent enroll
// TOKEN --json` takes it and says which agent it now is.
func TestCLITokenEnroll(t *testing.T) {
	env := newEnv(t, "")
	out, err := env.Hub(ctx(t), "agent", "add", "web1", "--allow", "www.example.test", "--token", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		Agent       struct{ ID string } `json:"agent"`
		Credentials string              `json:"credentials"`
		Token       string              `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Agent.ID != "web1" || added.Credentials != "issued" || !strings.HasPrefix(added.Token, "cfenroll1_") {
		t.Fatalf("agent add --token --json: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx(t), filepath.Join(binDir, "certfleet-agent"), "enroll", added.Token, "--config", cfg, "--json")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("enroll --json: %v", err)
	}
	var enrolled struct {
		Agent string   `json:"agent"`
		URLs  []string `json:"urls"`
	}
	if err := json.Unmarshal(got, &enrolled); err != nil || enrolled.Agent != "web1" || len(enrolled.URLs) == 0 {
		t.Fatalf("enroll --json: %v\n%s", err, got)
	}
}

// TestCLICompletionInBash: bash, with the bash-completion package and the
// script `certfleet-hub completion bash` prints, completes agent ids from
// the running hub.
func TestCLICompletionInBash(t *testing.T) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skipf("needs bash and the bash-completion package (apt-get install bash-completion): %v", err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("needs bash: %v", err)
	}
	env := newEnv(t, "")
	for _, id := range []string{"web1", "web2", "db1"} {
		if _, err := env.Hub(ctx(t), "agent", "add", id, "--allow", "www.example.test", "--out", filepath.Join(t.TempDir(), id+".json")); err != nil {
			t.Fatal(err)
		}
	}
	hub := filepath.Join(binDir, "certfleet-hub")
	// What bash sets when the user types "certfleet-hub agent remove
	// --config FILE we" and presses Tab.
	script := `
source "$BASH_COMPLETION"
source <("$HUB" completion bash)
COMP_WORDS=("$HUB" agent remove --config "$CONFIG" "$CUR")
COMP_CWORD=5
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
__start_certfleet-hub
printf '%s\n' "${COMPREPLY[@]}"
`
	for _, tc := range []struct {
		cur  string
		want []string
	}{
		{"we", []string{"web1", "web2"}},
		{"d", []string{"db1"}},
		{"x", nil},
	} {
		t.Run(tc.cur, func(t *testing.T) {
			cmd := exec.CommandContext(ctx(t), bash, "--norc", "--noprofile", "-c", script)
			cmd.Env = append(os.Environ(), "BASH_COMPLETION="+bashCompletion, "HUB="+hub, "CONFIG="+env.HubConfig, "CUR="+tc.cur)
			// Standard output only: outside a real Tab press bash says on
			// standard error that compopt has no completion to act on.
			var errOut strings.Builder
			cmd.Stderr = &errOut
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, errOut.String())
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("completing %q: %q, want %q", tc.cur, got, tc.want)
			}
		})
	}
}
