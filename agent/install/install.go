package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/certfleet/certfleet/agent/certstore"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/agent/keys"
)

// ErrReload marks a failed reload; the previous files were put back.
var ErrReload = errors.New("reload failed")

// Target says where a certificate block's files go and how to reload.
type Target struct {
	Name  string
	Names []string
	// Cert and Key are required; Chain and Fullchain optional.
	Cert, Chain, Fullchain, Key string
	Owner                       fsutil.Owner
	KeyMode, CertMode           fs.FileMode
	Reload                      Reload
	// Check, when configured, must see the new certificate served after
	// the reload, else the install is rolled back.
	Check TLSCheck
	// PFX, when set, receives key, leaf and intermediates as PKCS#12.
	PFX, PFXPassword string
	// Store, when set, also receives the certificate (Windows store):
	// StoreOptions.Store names it, StorePrefix is the friendly name.
	Store        certstore.Store
	StoreOptions certstore.AddOptions
	StorePrefix  string
}

// TargetFor builds the Target of a configuration block.
func TargetFor(b config.Certificate) Target {
	return Target{
		Name:      b.Name,
		Names:     b.Names,
		Cert:      b.Cert,
		Chain:     b.Chain,
		Fullchain: b.Fullchain,
		Key:       b.Key,
		Owner:     fsutil.Owner{User: b.Owner, Group: b.Group},
		KeyMode:   b.Mode.Mode,
		CertMode:  b.CertMode.Mode,
		Reload: Reload{
			Argv:       b.Reload,
			Shell:      b.ReloadShell,
			Service:    b.ReloadService,
			Action:     b.ReloadAction,
			PIDFile:    b.ReloadPIDFile,
			Signal:     b.ReloadSignal,
			PowerShell: b.ReloadPowerShell,
			Timeout:    b.ReloadTimeout.Duration,
		},
		Check: TLSCheck{
			Addr:       b.CheckTLS,
			ServerName: b.CheckName(),
			Timeout:    b.CheckTimeoutOrDefault(),
		},
		PFX:          b.PFX,
		PFXPassword:  b.PFXPassword,
		StoreOptions: certstore.AddOptions{Store: b.WindowsStore, Exportable: b.KeyExportable},
		StorePrefix:  b.FriendlyName,
	}
}

// env is what the reload command learns about the install.
func (t Target) env() []string {
	return []string{
		"CERTFLEET_CERT_NAME=" + t.Name,
		"CERTFLEET_NAMES=" + strings.Join(t.Names, " "),
		"CERTFLEET_CERT=" + t.Cert,
		"CERTFLEET_CHAIN=" + t.Chain,
		"CERTFLEET_FULLCHAIN=" + t.Fullchain,
		"CERTFLEET_KEY=" + t.Key,
	}
}

type file struct {
	path string
	data []byte
	mode fs.FileMode
}

// Install writes v and keyPEM to the target's files atomically, then runs
// the reload command and, if configured, checks that the service presents
// the new certificate. If a write fails, the files already written are
// put back as they were; if the reload or the check fails, every file is
// put back and the reload is run once more so the service picks the old
// files up again, and the error wraps ErrReload or ErrCheck. v must come
// from Verify; keyPEM must be the key v was verified against.
func Install(ctx context.Context, t Target, v *Verified, keyPEM []byte, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	if v == nil || len(keyPEM) == 0 {
		return errors.New("install: nothing verified to install")
	}
	if t.Cert == "" || t.Key == "" {
		return errors.New("install: cert and key paths are required")
	}
	if !t.Owner.IsZero() && !fsutil.OwnershipSupported {
		logger.Info("owner and group are not applied on this platform; files inherit their directory's permissions",
			"cert", t.Name, "owner", t.Owner.User, "group", t.Owner.Group)
	}
	ids, err := fsutil.Resolve(t.Owner)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	files := []file{{t.Key, keyPEM, t.KeyMode}, {t.Cert, v.CertPEM, t.CertMode}}
	if t.Chain != "" {
		files = append(files, file{t.Chain, v.ChainPEM, t.CertMode})
	}
	if t.Fullchain != "" {
		files = append(files, file{t.Fullchain, v.FullchainPEM, t.CertMode})
	}
	var bundle certstore.Bundle
	if t.PFX != "" || t.Store != nil {
		key, err := keys.Parse(keyPEM)
		if err != nil {
			return fmt.Errorf("install: %w", err)
		}
		bundle = certstore.Bundle{Leaf: v.Leaf, Chain: v.Intermediates, Key: key}
	}
	if t.PFX != "" {
		data, err := certstore.EncodePFX(bundle, t.PFXPassword)
		if err != nil {
			return fmt.Errorf("install: %w", err)
		}
		files = append(files, file{t.PFX, data, t.KeyMode})
	}
	// Read everything first: if an old file cannot be read, nothing is
	// touched.
	snaps := make([]fsutil.Snapshot, len(files))
	for i, f := range files {
		if snaps[i], err = fsutil.Take(f.path); err != nil {
			return fmt.Errorf("install: back up: %w", err)
		}
	}
	for i, f := range files {
		if err := fsutil.WriteFile(f.path, f.data, f.mode, ids); err != nil {
			rerr := restore(snaps[:i])
			return errors.Join(fmt.Errorf("install: %w", err), rerr)
		}
	}
	if t.Store != nil {
		res, err := certstore.Install(t.Store, bundle, t.StorePrefix, t.StoreOptions, func(thumbprint string) error {
			return t.reloadAndCheck(ctx, v, logger, "CERTFLEET_THUMBPRINT="+thumbprint)
		})
		if res.Thumbprint == "" {
			// Not added, or the reload/check failed and the new
			// certificate was taken out again.
			return t.rollback(ctx, snaps, fmt.Errorf("install: %w", err))
		}
		if err != nil {
			// Installed and bound; only an old certificate stayed.
			logger.Warn("replaced certificate not removed from the store", "cert", t.Name, "err", err)
		}
		logger.Info("certificate in the Windows store", "cert", t.Name, "store", t.StoreOptions.Store,
			"thumbprint", res.Thumbprint, "removed", res.Removed)
		return nil
	}
	if err := t.reloadAndCheck(ctx, v, logger); err != nil {
		return t.rollback(ctx, snaps, fmt.Errorf("install: %w", err))
	}
	return nil
}

// reloadAndCheck runs the reload and, if configured, the TLS check. Its
// errors wrap ErrReload or ErrCheck.
func (t Target) reloadAndCheck(ctx context.Context, v *Verified, logger *slog.Logger, env ...string) error {
	out, err := t.Reload.Run(ctx, append(t.env(), env...)...)
	if err != nil {
		logger.Warn("reload failed; restoring previous files", "cert", t.Name, "err", err)
		return fmt.Errorf("%w: %w", ErrReload, err)
	}
	if out != "" {
		logger.Debug("reload output", "cert", t.Name, "output", out)
	}
	if !t.Check.Configured() {
		return nil
	}
	if err := t.Check.Wait(ctx, v.Leaf); err != nil {
		logger.Warn("the service does not present the new certificate; restoring previous files", "cert", t.Name, "err", err)
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	logger.Debug("the service presents the new certificate", "cert", t.Name, "address", t.Check.Addr)
	return nil
}

// rollback puts the previous files back and reloads once more, and
// returns cause with whatever went wrong on the way. The reload runs even
// when ctx has ended (the agent stopping mid-install): the service must
// not be left on files that are no longer there; its own timeout bounds
// it.
func (t Target) rollback(ctx context.Context, snaps []fsutil.Snapshot, cause error) error {
	rerr := restore(snaps)
	if rerr == nil {
		if _, again := t.Reload.Run(context.WithoutCancel(ctx), append(t.env(), "CERTFLEET_ROLLBACK=1")...); again != nil {
			rerr = fmt.Errorf("reload after restoring: %w", again)
		}
	}
	return errors.Join(cause, rerr)
}

// restore puts snapshots back in reverse order and reports every failure.
func restore(snaps []fsutil.Snapshot) error {
	var errs []error
	for i := len(snaps) - 1; i >= 0; i-- {
		if err := snaps[i].Restore(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore previous files: %w", errors.Join(errs...))
	}
	return nil
}
