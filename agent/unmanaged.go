package agent

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/inventory"
	"github.com/certfleet/certfleet/shared"
)

// InventoryOptions turns the [inventory] section into scan options: the
// configured bounds, and the agent's own files and state dir excluded.
// The configuration is valid, so every pattern compiles.
func InventoryOptions(cfg config.Config) inventory.Options {
	inv := cfg.Inventory.WithDefaults()
	opts := inventory.Options{MaxFiles: inv.MaxFiles, MaxFileSize: inv.MaxFileSize, Private: []string{cfg.StateDir}}
	for _, raw := range inv.Paths {
		if p, err := inventory.CompilePattern(raw); err == nil {
			opts.Patterns = append(opts.Patterns, p)
		}
	}
	for _, b := range cfg.Certificates {
		opts.Managed = append(opts.Managed, b.Paths()...)
		for _, p := range []string{b.Cert, b.Fullchain} {
			if p != "" {
				opts.ManagedCerts = append(opts.ManagedCerts, p)
			}
		}
	}
	return opts
}

// runInventory scans the [inventory] paths at start and every interval
// (jittered) until ctx ends, keeps the latest result for the status
// report, and has a report sent when what was found changed.
func (a *Agent) runInventory(ctx context.Context) {
	inv := a.cfg.Inventory.WithDefaults()
	if len(inv.Paths) == 0 {
		return
	}
	opts := InventoryOptions(a.cfg)
	every := inv.Interval.Duration
	if a.opts.InventoryInterval > 0 {
		every = a.opts.InventoryInterval
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		res := inventory.Scan(ctx, opts)
		if ctx.Err() != nil {
			return
		}
		prev := a.unmanaged.Swap(&res)
		if prev == nil || !sameFindings(prev, &res) {
			a.logger.Info("inventory scanned", "unmanaged", len(res.Certs)+res.Omitted, "files_read", res.Read,
				"skipped", res.Skipped, "truncated", res.Truncated, "took", time.Since(start).Round(time.Millisecond))
			a.post(ctx, func(context.Context) { a.statusDirty = true })
		}
		t.Reset(a.jitter(every))
	}
}

// sameFindings reports whether two scans found the same certificates.
func sameFindings(a, b *inventory.Result) bool {
	if a.Omitted != b.Omitted || len(a.Certs) != len(b.Certs) {
		return false
	}
	ja, _ := json.Marshal(a.Certs)
	jb, _ := json.Marshal(b.Certs)
	return slices.Equal(ja, jb)
}

// addUnmanaged puts the latest scan into rep, leaving out the entries
// expiring last until the report fits in one message.
func (a *Agent) addUnmanaged(rep *shared.StatusReport) {
	res := a.unmanaged.Load()
	if res == nil {
		return
	}
	rep.Unmanaged = slices.Clone(res.Certs)
	rep.UnmanagedOmitted = res.Omitted
	fitReport(rep)
}

// fitReport drops unmanaged entries from the end (they are sorted by
// expiry) until the encoded report is within shared.MaxMessageSize.
func fitReport(rep *shared.StatusReport) {
	for len(rep.Unmanaged) > 0 {
		b, err := shared.Encode(rep)
		if err == nil && len(b) <= shared.MaxMessageSize {
			return
		}
		// Drop a quarter at a time: entries are at most a few KiB, so
		// this converges in a handful of encodings.
		n := max(1, len(rep.Unmanaged)/4)
		rep.Unmanaged = rep.Unmanaged[:len(rep.Unmanaged)-n]
		rep.UnmanagedOmitted += n
	}
}
