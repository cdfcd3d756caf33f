//go:build windows

package fsutil

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// OwnershipSupported reports whether owner and group settings are applied
// on this platform. On Windows files inherit the ACL of their directory.
const OwnershipSupported = false

// Unix modes do not map onto Windows ACLs; files inherit their
// directory's ACL instead (see makePrivate for the state directory).
func setMode(*os.File, fs.FileMode) error { return nil }

func setOwner(*os.File, IDs) error { return nil }

func fileIDs(fs.FileInfo) IDs { return NoChange }

// Windows cannot fsync a directory handle opened this way; NTFS journals
// the rename itself.
func syncDir(string) error { return nil }

// privateSDDL grants full control to SYSTEM and Administrators only, with
// inheritance to children, and blocks inherited entries (P) so the
// "Users: read" that ProgramData passes down does not apply.
const privateSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

func makePrivate(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(privateSDDL)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
}

// Resolve ignores ownership on Windows: there are no unix owners to set.
func Resolve(Owner) (IDs, error) { return NoChange, nil }
