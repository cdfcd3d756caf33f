package simfleet

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the report as a table.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %d simulated agents | figure |\n|---|---|\n", r.Agents)
	row := func(what, format string, args ...any) {
		fmt.Fprintf(&b, "| %s | %s |\n", what, fmt.Sprintf(format, args...))
	}
	row("enrol every agent (admin API `agent.add`, 16 in flight)", "%s (%.0f/s)", secs(r.Enroll), rate(r.Agents, r.Enroll))
	row("connect every agent at once, until each hello is answered", "%s", secs(r.Connect))
	r.cpuRow(row, "… CPU used meanwhile", r.ConnectCPU)
	if r.Issue == 0 {
		// A run without certificates (NoCerts): connect and restart only.
		r.restartRows(row)
		return b.String()
	}
	row(fmt.Sprintf("first certificate of every agent (issuance.concurrency %d)", r.Concurrency), "%s (%.1f/s)", secs(r.Issue), rate(r.Agents, r.Issue))
	row(fmt.Sprintf("idle hub, %s window: CPU", secs(r.Idle.Window)), "%.1f%% of one core", r.Idle.CPU)
	row("idle hub: peak RSS", "%s", mb(r.Idle.RSS))
	if r.External {
		row("idle external nats-server: CPU", "%.1f%% of one core", r.IdleNATS.CPU)
		row("idle external nats-server: peak RSS", "%s", mb(r.IdleNATS.RSS))
	}
	row("status, first page (200 agents, admin API)", "%s", ms(r.StatusFirst))
	row(fmt.Sprintf("status, every page (%d, admin API)", r.StatusPages), "%s", ms(r.StatusWalk))
	if r.StatusCLIErr != "" {
		row("`certfleet-hub status` (process, every page, printed)", "failed after %s: %s", ms(r.StatusCLI), r.StatusCLIErr)
	} else {
		row("`certfleet-hub status` (process, every page, printed)", "%s", ms(r.StatusCLI))
	}
	row(fmt.Sprintf("renew %d certificates at once, until each agent holds its new one", r.Renewals), "%s (one request: p50 %s, p95 %s)",
		secs(r.Renew), secs(r.RenewP50), secs(r.RenewP95))
	row(fmt.Sprintf("%d bare lego orders, %d at a time, same CA and DNS code", r.Renewals, r.Concurrency), "%s (one order: p50 %s, p95 %s)",
		secs(r.Bare), secs(r.BareP50), secs(r.BareP95))
	if r.Bare > 0 {
		row("renewal / bare lego", "%.2fx", r.Renew.Seconds()/r.Bare.Seconds())
	}
	r.restartRows(row)
	row("failed certificate requests", "%d", r.Failures)
	return b.String()
}

// restartRows are the rows of the restart step.
func (r Report) restartRows(row func(what, format string, args ...any)) {
	what := "hub"
	if r.External {
		what = "external nats-server"
	}
	row(what+" SIGKILLed → restarted and ready", "%s", secs(r.HubStart))
	row(what+" SIGKILLed → every agent connected again", "%s", secs(r.Reconnect))
	row(what+" SIGKILLed → every agent's hello answered again", "%s", secs(r.Regreet))
	r.cpuRow(row, "… CPU used meanwhile", r.RestartCPU)
	row("hub RSS after the restart, every agent back", "%s", mb(r.RSSAfterRestart))
	if r.External {
		row("nats-server RSS after the restart, every agent back", "%s", mb(r.NATSRSSAfterRestart))
	}
}

// cpuRow is one row of CPU time used by each process.
func (r Report) cpuRow(row func(what, format string, args ...any), what string, c CPUShare) {
	if r.External {
		row(what+": hub / nats-server / simulated agents", "%s / %s / %s", secs(c.Hub), secs(c.NATS), secs(c.Harness))
		return
	}
	row(what+": hub / simulated agents", "%s / %s", secs(c.Hub), secs(c.Harness))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func ms(d time.Duration) string   { return fmt.Sprintf("%d ms", d.Milliseconds()) }
func mb(n int64) string           { return fmt.Sprintf("%d MB", n>>20) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// stepper returns the progress printer of a run: each line prefixed with
// the seconds since the run began; progress nil prints nothing.
func stepper(progress func(string)) func(format string, args ...any) {
	if progress == nil {
		progress = func(string) {}
	}
	began := time.Now()
	return func(format string, args ...any) {
		progress(fmt.Sprintf("[%6.1fs] ", time.Since(began).Seconds()) + fmt.Sprintf(format, args...))
	}
}
