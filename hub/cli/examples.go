package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// fleetExamples are the examples of the commands that read the fleet.
// They are set from here, after the tree is built, so those commands'
// definitions (their paging flags are being reworked) stay untouched; a
// command that sets its own Example keeps it.
var fleetExamples = map[string]string{
	"status": `  certfleet-hub status
  certfleet-hub status --agent 'web*' --state failed,expiring
  certfleet-hub status --expiring 14d --all
  certfleet-hub status --unmanaged
  certfleet-hub status --json | jq '.alerts'`,
	"audit": `  certfleet-hub audit --agent web1 --since 24h
  certfleet-hub audit --after 0 --all --json`,
	"agent list": `  certfleet-hub agent list
  certfleet-hub agent list --agent 'web*' --limit 50
  certfleet-hub agent list --json | jq -r '.agents[].id'`,
}

func setFleetExamples(root *cobra.Command) {
	for p, ex := range fleetExamples {
		c, _, err := root.Find(strings.Fields(p))
		if err == nil && c != root && c.Example == "" {
			c.Example = ex
		}
	}
}
