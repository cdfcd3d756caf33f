//go:build windows

package certstore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// crypt32 and ncrypt calls that golang.org/x/sys/windows does not wrap.
var (
	crypt32                               = windows.NewLazySystemDLL("crypt32.dll")
	ncrypt                                = windows.NewLazySystemDLL("ncrypt.dll")
	procCertSetCertificateContextProperty = crypt32.NewProc("CertSetCertificateContextProperty")
	procCertGetCertificateContextProperty = crypt32.NewProc("CertGetCertificateContextProperty")
	procNCryptDeleteKey                   = ncrypt.NewProc("NCryptDeleteKey")
	procNCryptFreeObject                  = ncrypt.NewProc("NCryptFreeObject")
)

const (
	certFriendlyNamePropID = 11 // CERT_FRIENDLY_NAME_PROP_ID
)

// systemStore is the LocalMachine certificate store.
type systemStore struct{}

// Open returns the LocalMachine certificate store. Writing to it needs
// an administrator or SYSTEM (the agent service's account).
func Open() (Store, error) { return systemStore{}, nil }

func openStore(name string) (windows.Handle, error) {
	return openStoreProv(windows.CERT_STORE_PROV_SYSTEM, name)
}

func openStoreProv(prov uintptr, name string) (windows.Handle, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	h, err := windows.CertOpenStore(prov, 0, 0,
		windows.CERT_SYSTEM_STORE_LOCAL_MACHINE, uintptr(unsafe.Pointer(n)))
	if err != nil {
		return 0, fmt.Errorf("open LocalMachine\\%s: %w", name, err)
	}
	return h, nil
}

func (systemStore) Add(b Bundle, opts AddOptions) (string, error) {
	pfx, password, err := transientPFX(b)
	if err != nil {
		return "", err
	}
	pw, err := windows.UTF16PtrFromString(password)
	if err != nil {
		return "", err
	}
	flags := uint32(windows.CRYPT_MACHINE_KEYSET)
	if opts.Exportable {
		flags |= windows.CRYPT_EXPORTABLE
	}
	blob := windows.CryptDataBlob{Size: uint32(len(pfx)), Data: &pfx[0]}
	// Keys go to the CNG key storage provider (ECDSA needs it; deleteKey
	// relies on it). A crypt32 that does not know the flag (wine) refuses
	// it as an invalid parameter (wine without setting the last error,
	// which the syscall package reports as EINVAL): import into its
	// default provider then.
	temp, err := windows.PFXImportCertStore(&blob, pw, flags|windows.PKCS12_ALWAYS_CNG_KSP)
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) || errors.Is(err, syscall.EINVAL) {
		temp, err = windows.PFXImportCertStore(&blob, pw, flags)
	}
	if err != nil {
		return "", fmt.Errorf("import pfx: %w", err)
	}
	defer windows.CertCloseStore(temp, 0)

	leafStore, err := openStore(opts.Store)
	if err != nil {
		return "", err
	}
	defer windows.CertCloseStore(leafStore, 0)
	caStore, err := openStore("CA")
	if err != nil {
		return "", err
	}
	defer windows.CertCloseStore(caStore, 0)

	want := Thumbprint(b.Leaf)
	found := false
	var ctx *windows.CertContext
	for {
		ctx, err = windows.CertEnumCertificatesInStore(temp, ctx)
		if ctx == nil {
			break
		}
		der := unsafe.Slice(ctx.EncodedCert, ctx.Length)
		c, perr := x509.ParseCertificate(der)
		if perr != nil {
			windows.CertFreeCertificateContext(ctx)
			return "", fmt.Errorf("imported certificate: %w", perr)
		}
		target := caStore
		if Thumbprint(c) == want {
			found = true
			target = leafStore
			if err := setFriendlyName(ctx, opts.FriendlyName); err != nil {
				windows.CertFreeCertificateContext(ctx)
				return "", err
			}
		}
		if err := windows.CertAddCertificateContextToStore(target, ctx, windows.CERT_STORE_ADD_REPLACE_EXISTING, nil); err != nil {
			windows.CertFreeCertificateContext(ctx)
			return "", fmt.Errorf("add %s: %w", Thumbprint(c), err)
		}
	}
	if !found {
		return "", errors.New("import pfx: the leaf is not in it")
	}
	return want, nil
}

func setFriendlyName(ctx *windows.CertContext, name string) error {
	u, err := windows.UTF16FromString(name)
	if err != nil {
		return err
	}
	blob := windows.CryptDataBlob{Size: uint32(len(u) * 2), Data: (*byte)(unsafe.Pointer(&u[0]))}
	r, _, e := procCertSetCertificateContextProperty.Call(uintptr(unsafe.Pointer(ctx)), certFriendlyNamePropID, 0, uintptr(unsafe.Pointer(&blob)))
	if r == 0 {
		return fmt.Errorf("set friendly name: %w", e)
	}
	return nil
}

func friendlyName(ctx *windows.CertContext) string {
	var size uint32
	r, _, _ := procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(ctx)), certFriendlyNamePropID, 0, uintptr(unsafe.Pointer(&size)))
	if r == 0 || size < 2 {
		return ""
	}
	buf := make([]uint16, size/2)
	r, _, _ = procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(ctx)), certFriendlyNamePropID, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)))
	if r == 0 {
		return ""
	}
	return windows.UTF16ToString(buf)
}

func (systemStore) List(store, prefix string) ([]Cert, error) {
	h, err := openStore(store)
	if err != nil {
		return nil, err
	}
	defer windows.CertCloseStore(h, 0)
	var out []Cert
	var ctx *windows.CertContext
	for {
		ctx, _ = windows.CertEnumCertificatesInStore(h, ctx)
		if ctx == nil {
			break
		}
		name := friendlyName(ctx)
		if !MatchesPrefix(name, prefix) {
			continue
		}
		c, err := x509.ParseCertificate(unsafe.Slice(ctx.EncodedCert, ctx.Length))
		if err != nil {
			continue // not ours: we only add parseable certificates
		}
		out = append(out, Cert{Thumbprint: Thumbprint(c), FriendlyName: name, Subject: c.Subject.String(), NotAfter: c.NotAfter})
	}
	return out, nil
}

func (systemStore) Remove(store, thumbprint string) error {
	want := strings.ToUpper(thumbprint)
	// The registry store itself, not the system store (a collection
	// whose deletes wine does not pass on): LocalMachine stores that
	// software writes to live in the registry.
	h, err := openStoreProv(windows.CERT_STORE_PROV_SYSTEM_REGISTRY, store)
	if err != nil {
		return err
	}
	defer windows.CertCloseStore(h, 0)
	var ctx *windows.CertContext
	for {
		ctx, _ = windows.CertEnumCertificatesInStore(h, ctx)
		if ctx == nil {
			return nil // not there: nothing to remove
		}
		c, err := x509.ParseCertificate(unsafe.Slice(ctx.EncodedCert, ctx.Length))
		if err != nil || Thumbprint(c) != want {
			continue
		}
		deleteKey(ctx)
		// CertDeleteCertificateFromStore frees the context, even on
		// failure, which also ends the enumeration.
		if err := windows.CertDeleteCertificateFromStore(ctx); err != nil {
			return fmt.Errorf("delete %s: %w", thumbprint, err)
		}
		return nil
	}
}

// deleteKey deletes the certificate's CNG private key, so that replaced
// keys do not pile up in the machine key store. Best effort: a key
// that cannot be opened was not ours to delete.
func deleteKey(ctx *windows.CertContext) {
	var key windows.Handle
	var spec uint32
	var mustFree bool
	err := windows.CryptAcquireCertificatePrivateKey(ctx, windows.CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG|windows.CRYPT_ACQUIRE_SILENT_FLAG, nil, &key, &spec, &mustFree)
	if err != nil || key == 0 {
		return
	}
	// NCryptDeleteKey frees the handle when it succeeds.
	if r, _, _ := procNCryptDeleteKey.Call(uintptr(key), 0); r != 0 && mustFree {
		procNCryptFreeObject.Call(uintptr(key))
	}
}
