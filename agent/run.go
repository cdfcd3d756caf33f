package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certfleet/certfleet/agent/client"
	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// ErrNotEnrolled is returned when no enrollment bundle is found.
var ErrNotEnrolled = errors.New("not enrolled")

// run is Run and RenewOnce: once is nil for the daemon.
func (a *Agent) run(parent context.Context, once *string) ([]control.Outcome, error) {
	ctx, cancel, err := a.begin(parent)
	if errors.Is(err, errClosed) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer a.end()

	if err := fsutil.MkdirPrivate(a.cfg.StateDir); err != nil {
		return nil, fmt.Errorf("prepare state dir: %w", err)
	}
	lock, err := fsutil.Lock(a.cfg.LockPath())
	if err != nil {
		if errors.Is(err, fsutil.ErrLocked) {
			return nil, fmt.Errorf("another agent is running on state dir %s: %w", a.cfg.StateDir, err)
		}
		return nil, err
	}
	defer lock.Unlock()

	enr, err := LoadEnrollment(a.cfg.EnrollmentPath())
	if err != nil {
		return nil, err
	}
	if err := a.ensureCreds(enr); err != nil {
		return nil, err
	}
	a.loopState = newLoopState(a, enr.AgentID, once)
	if err := a.loadState(); err != nil {
		return nil, err
	}

	if once == nil {
		// Without the socket only local `renew` is lost; certificate
		// upkeep matters more, so the agent runs on (older Windows
		// releases have no unix sockets).
		srv, err := control.Listen(a.cfg.ControlSocket(), controlHandler{a}, a.logger)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			// Expected there, not a fault: say what still works.
			a.logger.Warn("no control socket on this system; `certfleet-agent renew` cannot reach this agent, use `certfleet-hub renew AGENT` or stop the agent first", "err", err)
		case err != nil:
			a.logger.Error("control socket unavailable; `certfleet-agent renew` cannot reach this agent", "err", err)
		default:
			defer srv.Close()
		}
	}

	urls := enr.URLs
	if len(a.cfg.Hub.URLs) > 0 {
		urls = a.cfg.Hub.URLs
	}
	cl, err := client.Connect(client.Options{
		AgentID:       enr.AgentID,
		URLs:          urls,
		ProxyURL:      a.cfg.Hub.ProxyURL,
		TLSServerName: a.cfg.Hub.TLSServerName,
		CredsFile:     a.cfg.CredsPath(),
		CAPEM:         []byte(enr.CA),
		Handler:       hubHandler{a},
		OnConnect:     func() { a.post(ctx, func(ctx context.Context) { a.onConnect(ctx) }) },
		Logger:        a.logger,
	})
	if err != nil {
		return nil, err
	}
	a.hub = cl
	defer cl.Close()

	a.logger.Info("agent started", "agent", enr.AgentID, "version", a.opts.Version,
		"certificates", len(a.cfg.Certificates), "state_dir", a.cfg.StateDir)

	var (
		outcomes []control.Outcome
		onceErr  error
		onceDone chan struct{}
	)
	if once != nil {
		onceDone = make(chan struct{})
		cert := *once
		go func() {
			defer close(onceDone)
			outcomes, onceErr = a.renew(ctx, cert)
			cancel()
		}()
	}
	var scans sync.WaitGroup
	if once == nil {
		scans.Go(func() { a.runInventory(ctx) })
	}
	a.loop(ctx)
	scans.Wait()
	if onceDone != nil {
		<-onceDone
	}
	if err := a.persist(); err != nil {
		a.logger.Error("save state on exit", "err", err)
	}
	a.logger.Info("agent stopped")
	return outcomes, onceErr
}

// LoadEnrollment reads the enrollment bundle at path.
func LoadEnrollment(path string) (*shared.Enrollment, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing; run `certfleet-agent enroll`", ErrNotEnrolled, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read enrollment: %w", err)
	}
	e, err := shared.ParseEnrollment(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// ensureCreds writes the credentials file from the enrollment when it is
// missing (an enrollment placed by hand or by configuration management).
func (a *Agent) ensureCreds(e *shared.Enrollment) error {
	_, err := os.Stat(a.cfg.CredsPath())
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check credentials: %w", err)
	}
	if err := fsutil.WritePrivate(a.cfg.CredsPath(), []byte(e.Creds)); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// loadState reads the state file and reconciles it with the
// configuration: blocks no longer configured are forgotten, requests
// made under another agent id are dropped, and pending keys nobody
// waits for are deleted.
func (a *Agent) loadState() error {
	st, err := state.Load(a.cfg.StatePath())
	if err != nil {
		// A damaged state file must not stop certificate upkeep: set it
		// aside for inspection and start over. Installed certificates on
		// disk are still recognized, so nothing is re-issued needlessly.
		aside := a.cfg.StatePath() + ".corrupt-" + time.Now().UTC().Format("20060102T150405")
		if rerr := os.Rename(a.cfg.StatePath(), aside); rerr != nil {
			return fmt.Errorf("load state: %w (and set it aside: %w)", err, rerr)
		}
		a.logger.Error("state file unreadable; set aside, starting afresh", "err", err, "moved_to", aside)
		st = state.New()
	}
	a.st = st
	if st.AgentID != "" && st.AgentID != a.agentID {
		a.logger.Warn("enrolled under a new agent id; dropping requests made under the old one",
			"old", st.AgentID, "new", a.agentID)
		for name, c := range st.Certificates {
			if c.Pending != nil {
				a.dropPending(name, c)
			}
		}
	}
	st.AgentID = a.agentID
	for name, c := range st.Certificates {
		if _, ok := a.cfg.Block(name); !ok {
			if c.Pending != nil {
				a.dropPending(name, c)
			}
			delete(st.Certificates, name)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(a.cfg.StateDir, "pending-*.key"))
	for _, m := range matches {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "pending-"), ".key")
		if c := st.Certificates[name]; c == nil || c.Pending == nil {
			if err := os.Remove(m); err != nil {
				a.logger.Warn("remove stale pending key", "path", m, "err", err)
			}
		}
	}
	return a.persist()
}
