package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/acmedns/migrate"
	"github.com/certfleet/certfleet/hub/admin"
)

// importBatch bounds one admin request (well under the NATS message limit).
const importBatch = 200

func acmednsImportCmd(g *globals) *cobra.Command {
	var sqlitePath, pgDSN string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import (--sqlite FILE | --postgres DSN)",
		Short: "Copy the registrations of an acme-dns database into the hub",
		Long: `Reads acme-dns's records and txt tables and stores every registration in the
hub, bcrypt hashes untouched: clients keep their stored username and key.
Registrations already in the hub are skipped, so the import can be re-run
(e.g. once more right before the cut-over). The database is only read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (sqlitePath == "") == (pgDSN == "") {
				return errors.New("give exactly one of --sqlite FILE or --postgres DSN")
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
			fmt.Fprintf(g.errOut, "read %d registrations\n", len(regs))
			if dryRun {
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
			for _, w := range total.Warnings {
				fmt.Fprintln(g.errOut, "warning:", w)
			}
			for _, r := range total.Rejected {
				fmt.Fprintln(g.errOut, "rejected:", r)
			}
			fmt.Fprintf(g.out, "imported %d, skipped %d (already present), rejected %d\n", len(total.Imported), len(total.Skipped), len(total.Rejected))
			if len(total.Rejected) > 0 {
				return fmt.Errorf("%d registrations could not be imported", len(total.Rejected))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sqlitePath, "sqlite", "", "acme-dns SQLite database file (acme-dns.db)")
	cmd.Flags().StringVar(&pgDSN, "postgres", "", "acme-dns PostgreSQL connection string (as in acme-dns's config)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only read the database and report")
	return cmd
}
