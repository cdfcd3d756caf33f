// Package certstore installs certificates into the Windows certificate
// store, as the established Windows tools do: the leaf with its private
// key (imported non-exportable unless asked) into LocalMachine\<store>
// (My or WebHosting) under a friendly name, the intermediates into
// LocalMachine\CA, and, once the new certificate is bound (the reload ran
// and passed), removal of the certificates it replaces.
//
// The store is behind the Store interface: the Windows implementation
// uses crypt32 through golang.org/x/sys/windows (PFXImportCertStore,
// CertAddCertificateContextToStore, CertDeleteCertificateFromStore); the
// tests of the replace logic use a double and run everywhere.
package certstore

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Stores the agent may install into (LocalMachine).
const (
	StoreMy         = "My"
	StoreWebHosting = "WebHosting"
)

// Cert is a certificate found in a store.
type Cert struct {
	// Thumbprint is the SHA-1 of the DER, upper-case hex, as Windows
	// tools show it.
	Thumbprint   string
	FriendlyName string
	Subject      string
	NotAfter     time.Time
}

// Bundle is what to install.
type Bundle struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate // intermediates
	Key   crypto.Signer
}

// AddOptions say how to add a bundle.
type AddOptions struct {
	// Store is the LocalMachine store for the leaf: My or WebHosting.
	Store        string
	FriendlyName string
	// Exportable allows exporting the private key later; off by default.
	Exportable bool
}

// Store is a certificate store.
type Store interface {
	// Add installs the bundle and returns the leaf's thumbprint. Adding
	// a certificate that is there already replaces it.
	Add(b Bundle, opts AddOptions) (thumbprint string, err error)
	// List returns the certificates of store whose friendly name is
	// prefix or starts with prefix followed by a space.
	List(store, prefix string) ([]Cert, error)
	// Remove deletes a certificate, and its private key, from store. A
	// thumbprint that is not there is no error.
	Remove(store, thumbprint string) error
}

// Thumbprint is a certificate's Windows thumbprint.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// FriendlyName is the name given to a block's certificate: the block's
// prefix, then the expiry date, so that an operator tells them apart in
// certlm.msc and the agent finds its own later.
func FriendlyName(prefix string, leaf *x509.Certificate) string {
	return prefix + " " + leaf.NotAfter.UTC().Format("2006-01-02")
}

// MatchesPrefix reports whether a friendly name is one of prefix's.
func MatchesPrefix(name, prefix string) bool {
	return name == prefix || strings.HasPrefix(name, prefix+" ")
}

// Installed is the outcome of Install.
type Installed struct {
	Thumbprint string
	// Removed are the thumbprints of the replaced certificates taken out.
	Removed []string
}

// Install adds the bundle to s under FriendlyName(prefix, leaf), runs
// bind (the reload, which moves the service's binding to the new
// certificate; it learns the new thumbprint), and only then removes the
// block's previous certificates. If bind fails, the new certificate is
// taken out again and the previous ones stay, so the service keeps a
// working binding. A failure to remove an old certificate is reported in
// the error but the install stands.
func Install(s Store, b Bundle, prefix string, opts AddOptions, bind func(thumbprint string) error) (Installed, error) {
	if b.Leaf == nil || b.Key == nil {
		return Installed{}, errors.New("certificate store: nothing to install")
	}
	before, err := s.List(opts.Store, prefix)
	if err != nil {
		return Installed{}, fmt.Errorf("certificate store: list %s: %w", opts.Store, err)
	}
	opts.FriendlyName = FriendlyName(prefix, b.Leaf)
	thumb, err := s.Add(b, opts)
	if err != nil {
		return Installed{}, fmt.Errorf("certificate store: add to LocalMachine\\%s: %w", opts.Store, err)
	}
	if bind != nil {
		if err := bind(thumb); err != nil {
			if rerr := s.Remove(opts.Store, thumb); rerr != nil {
				err = errors.Join(err, fmt.Errorf("certificate store: take the new certificate out again: %w", rerr))
			}
			return Installed{}, err
		}
	}
	res := Installed{Thumbprint: thumb}
	var errs []error
	for _, c := range before {
		if c.Thumbprint == thumb {
			continue
		}
		if err := s.Remove(opts.Store, c.Thumbprint); err != nil {
			errs = append(errs, fmt.Errorf("certificate store: remove replaced %s: %w", c.Thumbprint, err))
			continue
		}
		res.Removed = append(res.Removed, c.Thumbprint)
	}
	return res, errors.Join(errs...)
}
