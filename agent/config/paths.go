package config

import (
	"os"
	"path/filepath"
	"runtime"
)

// DefaultStateDir is the platform's conventional place for the agent's
// private state.
func DefaultStateDir() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(programData(), "certfleet-agent")
	case "darwin":
		return "/Library/Application Support/certfleet-agent"
	default:
		return "/var/lib/certfleet-agent"
	}
}

// DefaultConfigPath is where the CLI looks for the configuration when
// --config is not given.
func DefaultConfigPath() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(programData(), "certfleet-agent", "config.toml")
	case "darwin":
		return "/Library/Application Support/certfleet-agent/config.toml"
	default:
		return "/etc/certfleet-agent/config.toml"
	}
}

func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}
