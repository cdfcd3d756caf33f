package service

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// hubIDFile, in the data dir, names this hub among the hubs that share
// one NATS deployment. It is made once and kept, so a restarted hub
// recognises the requests it was driving when it died and resumes them at
// once, while another hub first waits for the holder to go silent.
const hubIDFile = "hub-id"

var hubIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// loadHubID returns the hub id kept in dataDir, making one the first time:
// the host name (for people reading `status`) and random hex (two hubs on
// one host, or two hosts with one name, still differ).
func loadHubID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, hubIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !hubIDRe.MatchString(id) {
			return "", fmt.Errorf("read hub id: %s holds %q, not an id (delete it to make a new one)", path, id)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read hub id: %w", err)
	}
	id := newHubID()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process made it first: use its id.
		return loadHubID(dataDir)
	}
	if err != nil {
		return "", fmt.Errorf("create hub id: %w", err)
	}
	_, werr := f.WriteString(id + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("write hub id: %w", werr)
	}
	return id, nil
}

func newHubID() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '_':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" {
		name = "hub"
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return name + "-" + hex.EncodeToString(r[:])
}
