package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EditHubConfig rewrites the hub's config file with edit; the running hub
// sees the change on its next start.
func (e *Env) EditHubConfig(edit func(string) (string, error)) error {
	b, err := os.ReadFile(e.HubConfig)
	if err != nil {
		return fmt.Errorf("read hub config: %w", err)
	}
	s, err := edit(string(b))
	if err != nil {
		return fmt.Errorf("edit hub config: %w", err)
	}
	if err := os.WriteFile(e.HubConfig, []byte(s), 0o600); err != nil {
		return fmt.Errorf("write hub config: %w", err)
	}
	return nil
}

// SetHubConfigLine replaces the line starting with "key =" (the first
// one) by "key = value" (value in TOML syntax).
func (e *Env) SetHubConfigLine(key, value string) error {
	return e.EditHubConfig(func(s string) (string, error) {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), key+" =") {
				lines[i] = key + " = " + value
				return strings.Join(lines, "\n"), nil
			}
		}
		return "", fmt.Errorf("no %q line", key)
	})
}

// UseCAProxy points the hub's [[ca]] at p instead of Pebble, trusting
// the proxy's HTTPS root. Call it before the hub starts.
func (e *Env) UseCAProxy(p *CAProxy) error {
	root := filepath.Join(e.opts.Dir, "hub", "ca-proxy-root.pem")
	if err := p.WriteRoot(root); err != nil {
		return err
	}
	if err := e.SetHubConfigLine("directory", fmt.Sprintf("%q", p.DirectoryURL())); err != nil {
		return err
	}
	return e.SetHubConfigLine("ca_bundle", fmt.Sprintf("%q", root))
}

// HubLogPath is the hub's log file (kept across restarts).
func (e *Env) HubLogPath() string { return filepath.Join(e.opts.Dir, "hub", "hub.log") }

// Kill stops the agent with SIGKILL: no state is saved on the way out.
func (a *Agent) Kill() {
	if a.proc == nil {
		return
	}
	p := a.proc
	a.proc = nil
	p.Kill()
}

// LogPath is the agent's log file (kept across restarts).
func (a *Agent) LogPath() string { return filepath.Join(a.Dir, "agent.log") }

// StatePath is the agent's state file.
func (a *Agent) StatePath() string { return filepath.Join(a.Dir, "state", "state.json") }
