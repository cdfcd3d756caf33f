package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/acmedns/migrate"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// importBatch bounds one admin request (well under the NATS message limit).
const importBatch = 200

// ACMEDNSImported is what `acmedns import --json` prints.
type ACMEDNSImported struct {
	// Read is how many registrations the database holds.
	Read   int  `json:"read"`
	DryRun bool `json:"dry_run"`
	// Imported, Skipped (already in the hub) and Rejected list usernames
	// (Rejected with the reason).
	Imported []string `json:"imported"`
	Skipped  []string `json:"skipped"`
	Rejected []string `json:"rejected"`
	Warnings []string `json:"warnings"`
}

func acmednsImportCmd(g *globals) *cobra.Command {
	var sqlitePath, pgDSN string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "import (--sqlite FILE | --postgres DSN)",
		Short: "Copy the registrations of an acme-dns database into the hub",
		Long: `Reads acme-dns's records and txt tables and stores every registration in the
hub, bcrypt hashes untouched: clients keep their stored username and key.
Registrations already in the hub are skipped, so the import can be re-run
(e.g. once more right before the cut-over). The database is only read.
It exits 1 if any registration was rejected.`,
		Example: `  certfleet-hub acmedns import --sqlite /var/lib/acme-dns/acme-dns.db --dry-run
  certfleet-hub acmedns import --postgres 'postgres://acmedns:secret@db.example.org/acmedns?sslmode=require' --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (sqlitePath == "") == (pgDSN == "") {
				return cliusage.Usagef(cmd, "give exactly one of --sqlite FILE or --postgres DSN")
			}
			var regs []hub.ACMEDNSRegistration
			var err error
			if sqlitePath != "" {
				regs, err = migrate.ReadSQLite(cmd.Context(), sqlitePath)
			} else {
				regs, err = migrate.ReadPostgres(cmd.Context(), pgDSN)
			}
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(g.errOut, "read %d registrations\n", len(regs))
			}
			if dryRun {
				if asJSON {
					return printJSON(g, ACMEDNSImported{Read: len(regs), DryRun: true})
				}
				return nil
			}
			var total admin.ACMEDNSImportReply
			for start := 0; start < len(regs); start += importBatch {
				batch := regs[start:min(start+importBatch, len(regs))]
				var rep admin.ACMEDNSImportReply
				if err := g.call(cmd.Context(), admin.VerbACMEDNSImport, admin.ACMEDNSImportRequest{Registrations: batch}, &rep); err != nil {
					return fmt.Errorf("import (after %d imported): %w", len(total.Imported), err)
				}
				total.Imported = append(total.Imported, rep.Imported...)
				total.Skipped = append(total.Skipped, rep.Skipped...)
				total.Rejected = append(total.Rejected, rep.Rejected...)
				total.Warnings = append(total.Warnings, rep.Warnings...)
			}
			if asJSON {
				if err := printJSON(g, ACMEDNSImported{Read: len(regs), Imported: total.Imported, Skipped: total.Skipped,
					Rejected: total.Rejected, Warnings: total.Warnings}); err != nil {
					return err
				}
			} else {
				for _, w := range total.Warnings {
					fmt.Fprintln(g.errOut, "warning:", w)
				}
				for _, r := range total.Rejected {
					fmt.Fprintln(g.errOut, "rejected:", r)
				}
				fmt.Fprintf(g.out, "imported %d, skipped %d (already present), rejected %d\n", len(total.Imported), len(total.Skipped), len(total.Rejected))
			}
			if len(total.Rejected) > 0 {
				return fmt.Errorf("%d registrations could not be imported", len(total.Rejected))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sqlitePath, "sqlite", "", "acme-dns SQLite database file (acme-dns.db)")
	cmd.Flags().StringVar(&pgDSN, "postgres", "", "acme-dns PostgreSQL connection string (as in acme-dns's config)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only read the database and report")
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}
