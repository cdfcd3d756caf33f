package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/shared"
)

// Enroll stores an enrollment bundle in the state dir: the bundle itself
// and the NATS credentials from it, both 0600 in the 0700 state dir. It
// refuses to replace an enrollment for another agent id unless force is
// set, and refuses while an agent runs on the state dir.
func Enroll(cfg config.Config, e *shared.Enrollment, force bool) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := fsutil.MkdirPrivate(cfg.StateDir); err != nil {
		return fmt.Errorf("prepare state dir: %w", err)
	}
	lock, err := fsutil.Lock(cfg.LockPath())
	if err != nil {
		if errors.Is(err, fsutil.ErrLocked) {
			return fmt.Errorf("an agent is running on %s; stop it before enrolling: %w", cfg.StateDir, err)
		}
		return err
	}
	defer lock.Unlock()
	if old, err := LoadEnrollment(cfg.EnrollmentPath()); err == nil && old.AgentID != e.AgentID && !force {
		return fmt.Errorf("already enrolled as agent %q; enrolling as %q needs --force", old.AgentID, e.AgentID)
	} else if err != nil && !errors.Is(err, ErrNotEnrolled) && !force {
		return fmt.Errorf("existing enrollment unreadable (use --force to replace it): %w", err)
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode enrollment: %w", err)
	}
	if err := fsutil.WritePrivate(cfg.EnrollmentPath(), append(data, '\n')); err != nil {
		return fmt.Errorf("store enrollment: %w", err)
	}
	if err := fsutil.WritePrivate(cfg.CredsPath(), []byte(e.Creds)); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	return nil
}

// ReadEnrollmentArg reads an enrollment given on the command line: a
// token (cfenroll1_...) or the path of a bundle file.
func ReadEnrollmentArg(arg string) (*shared.Enrollment, error) {
	if len(arg) > len(shared.EnrollmentTokenPrefix) && arg[:len(shared.EnrollmentTokenPrefix)] == shared.EnrollmentTokenPrefix {
		return shared.ParseEnrollment([]byte(arg))
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("read enrollment: %w", err)
	}
	return shared.ParseEnrollment(data)
}
