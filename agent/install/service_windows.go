//go:build windows

package install

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// pollInterval is how often a service's state is read while waiting.
const pollInterval = 250 * time.Millisecond

// restartWindowsService stops the service (if it runs), waits until it
// has stopped, starts it and waits until it runs, all within timeout.
func restartWindowsService(ctx context.Context, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("restart Windows service %s: connect to the service manager: %w", name, err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("restart Windows service %s: %w", name, err)
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("restart Windows service %s: query: %w", name, err)
	}
	if st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("restart Windows service %s: stop: %w", name, err)
		}
		if err := waitState(ctx, s, svc.Stopped); err != nil {
			return fmt.Errorf("restart Windows service %s: stop: %w", name, err)
		}
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("restart Windows service %s: start: %w", name, err)
	}
	if err := waitState(ctx, s, svc.Running); err != nil {
		return fmt.Errorf("restart Windows service %s: start: %w", name, err)
	}
	return nil
}

func waitState(ctx context.Context, s *mgr.Service, want svc.State) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if st.State == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still in state %d after the reload timeout", st.State)
		case <-t.C:
		}
	}
}

// signalPIDFile is unix only; the configuration refuses it on Windows.
func signalPIDFile(path, name string) error {
	return fmt.Errorf("signal %s to the process in %s: signals are unix only", name, path)
}
