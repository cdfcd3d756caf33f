package simfleet

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space on every architecture.
const userHZ = 100

// RSS returns the resident memory of process pid in bytes (Linux /proc).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read memory of %d: VmRSS %q: %w", pid, f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("read memory of %d: no VmRSS", pid)
}

// CPUTime returns the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: the fields
	// count from the last ")". utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("read cpu time of %d: malformed stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read cpu time of %d: short stat", pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read cpu time of %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// Usage is a process's resources over a window.
type Usage struct {
	Window time.Duration
	// CPU is the share of one core used, in percent (200 = two cores).
	CPU float64
	// RSS is the largest resident size seen, sampled every second.
	RSS int64
}

// Measure watches process pid for window and returns its CPU share and
// peak RSS.
func Measure(ctx context.Context, pid int, window time.Duration) (Usage, error) {
	u := Usage{Window: window}
	cpu0, err := CPUTime(pid)
	if err != nil {
		return u, err
	}
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		rss, err := RSS(pid)
		if err != nil {
			return u, err
		}
		u.RSS = max(u.RSS, rss)
		if time.Since(start) >= window {
			break
		}
		select {
		case <-ctx.Done():
			return u, ctx.Err()
		case <-t.C:
		}
	}
	cpu1, err := CPUTime(pid)
	if err != nil {
		return u, err
	}
	u.Window = time.Since(start)
	u.CPU = 100 * float64(cpu1-cpu0) / float64(u.Window)
	return u, nil
}

// CPUShare is CPU time used in one window by the hub, by an external
// nats-server (zero without one) and by the harness.
type CPUShare struct{ Hub, NATS, Harness time.Duration }

// cpuMark is a process's CPU time at the start of a window; a process
// that cannot be read counts as zero (the figure is then missing, not
// wrong). The zero mark of a process counts from its start.
type cpuMark struct {
	pid int
	at  time.Duration
}

func markCPU(pid int) cpuMark {
	t, _ := CPUTime(pid)
	return cpuMark{pid: pid, at: t}
}

// used returns the CPU time the process used since the mark.
func (m cpuMark) used() time.Duration {
	t, err := CPUTime(m.pid)
	if err != nil {
		return 0
	}
	return t - m.at
}
