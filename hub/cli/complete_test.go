package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	agentconfig "github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/internal/cliusage/clitest"
)

// TestCompletionFromHub: shell completion offers what the running hub
// holds (agent ids, an agent's certificate names, domains, users, TSIG
// keys, acme-dns registrations), asked over the admin connection through
// cobra's __complete, as bash, zsh, fish and PowerShell ask.
func TestCompletionFromHub(t *testing.T) {
	th := startHub(t)
	must := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runHubIn(stdin, append(args, "--config", th.config)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	var added AgentAdded
	if err := json.Unmarshal([]byte(must("", "agent", "add", "web1", "--allow", "www.example.test", "--token", "--json")), &added); err != nil {
		t.Fatal(err)
	}
	must("", "agent", "add", "db1", "--allow", "db.example.test", "--out", filepath.Join(t.TempDir(), "db1.enroll.json"))
	must("", "domain", "add", "www.example.test")
	must("", "domain", "add", "--zone", "corp.example.test")
	must("correct horse battery\n", "user", "add", "alice", "--role", "admin")
	must("", "tsig", "add", "certbot-web", "--allow", "www.corp.example.test")
	var reg struct{ Username string }
	if err := json.Unmarshal([]byte(must("", "acmedns", "register", "--json")), &reg); err != nil {
		t.Fatal(err)
	}
	// A real agent enrolled with the token reports its block "web".
	runAgent(t, added.Token)

	complete := func(args ...string) []string {
		t.Helper()
		got, d := clitest.Complete(t, runHub, args...)
		if d != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("__complete %v: directive %d, want NoFileComp", args, d)
		}
		return got
	}
	cfg := "--config=" + th.config
	// The certificate name appears once the agent has reported.
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Equal(complete("renew", cfg, "web1", ""), []string{"web"}) {
		if time.Now().After(deadline) {
			t.Fatalf("renew web1 <TAB> never offered the agent's block: %v", complete("renew", cfg, "web1", ""))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"agent ids", []string{"agent", "remove", cfg, ""}, []string{"db1", "web1"}},
		{"agent id prefix", []string{"agent", "remove", cfg, "we"}, []string{"web1"}},
		{"no agent matches", []string{"agent", "remove", cfg, "x"}, nil},
		{"one agent only", []string{"agent", "remove", cfg, "web1", ""}, nil},
		{"renew agent", []string{"renew", cfg, "d"}, []string{"db1"}},
		{"renew cert", []string{"renew", cfg, "web1", "w"}, []string{"web"}},
		{"status --agent", []string{"status", cfg, "--agent", ""}, []string{"db1", "web1"}},
		{"audit --agent", []string{"audit", cfg, "--agent", "db"}, []string{"db1"}},
		{"domains", []string{"domain", "remove", cfg, ""}, []string{"corp.example.test", "www.example.test"}},
		{"domain check skips given", []string{"domain", "check", cfg, "www.example.test", ""}, []string{"corp.example.test"}},
		{"users", []string{"user", "remove", cfg, ""}, []string{"alice"}},
		{"tsig keys", []string{"tsig", "remove", cfg, ""}, []string{"certbot-web"}},
		{"acme-dns registrations", []string{"acmedns", "remove", cfg, ""}, []string{reg.Username}},
		{"fixed values", []string{"user", "add", "bob", cfg, "--role", ""}, []string{"admin", "readonly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := complete(tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("__complete %v = %v, want %v", tc.args, got, tc.want)
			}
		})
	}
	// cert show AGENT/CERT: the agent with its slash and no space, then
	// that agent's blocks.
	if got, d := clitest.Complete(t, runHub, "cert", "show", cfg, "we"); !slices.Equal(got, []string{"web1/"}) || d != cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace {
		t.Errorf("cert show we<TAB> = %v (directive %d), want [web1/] without a space", got, d)
	}
	if got := complete("cert", "show", cfg, "web1/"); !slices.Equal(got, []string{"web1/web"}) {
		t.Errorf("cert show web1/<TAB> = %v, want [web1/web]", got)
	}
}

// TestCompletionWithoutHub: with no hub to ask, completion offers nothing
// and says nothing, and the shell still gets a directive.
func TestCompletionWithoutHub(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no config", []string{"agent", "remove", "--config", filepath.Join(t.TempDir(), "none.toml"), ""}},
		{"nothing listening", []string{"renew", "--nats-url", closed, "--creds", filepath.Join(t.TempDir(), "none.creds"), ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runHub(append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
			if code != 0 || out != fmt.Sprintf(":%d\n", cobra.ShellCompDirectiveNoFileComp) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// TestCompletionScripts: `completion SHELL` prints each shell's script.
func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_certfleet-hub", "zsh": "#compdef certfleet-hub", "fish": "complete -c certfleet-hub", "powershell": "Register-ArgumentCompleter"} {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := runHub("completion", shell)
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("exit %d, stderr %q; script lacks %q", code, errOut, want)
			}
		})
	}
}

// runAgent enrolls a real agent with token into a config with one block,
// "web", and runs it until the test ends.
func runAgent(t *testing.T, token string) {
	t.Helper()
	dir := t.TempDir()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	text := fmt.Sprintf("state_dir = %s\n\n[[certificate]]\nname = \"web\"\nnames = [\"www.example.test\"]\ncert = %s\nchain = %s\nkey = %s\n",
		q(filepath.Join(dir, "state")), q(filepath.Join(dir, "cert.pem")), q(filepath.Join(dir, "chain.pem")), q(filepath.Join(dir, "key.pem")))
	path := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agentconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := agent.ReadEnrollmentArg(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Enroll(cfg, e, false); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StatusInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() {
		a.Close()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
}
