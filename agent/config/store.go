package config

import (
	"runtime"
	"unicode/utf8"
)

// Windows certificate stores a block may install into (LocalMachine).
var windowsStores = []string{"My", "WebHosting"}

func (c Certificate) validateWindowsStore(f string, v *validator) {
	if c.PFXPassword != "" && c.PFX == "" {
		v.Conflict(f+".pfx_password", "set without pfx")
	}
	if c.WindowsStore == "" {
		if c.KeyExportable {
			v.Conflict(f+".key_exportable", "set without windows_store")
		}
		if c.FriendlyName != "" {
			v.Conflict(f+".friendly_name", "set without windows_store")
		}
		return
	}
	if runtime.GOOS != "windows" {
		v.Invalid(f+".windows_store", nil, "the Windows certificate store exists only on Windows; use cert/key or pfx files")
		return
	}
	ok := false
	for _, s := range windowsStores {
		ok = ok || c.WindowsStore == s
	}
	if !ok {
		v.Invalid(f+".windows_store", c.WindowsStore, "want My or WebHosting")
	}
	if n := utf8.RuneCountInString(c.FriendlyName); n > 200 {
		v.OutOfRange(f+".friendly_name", nil, "%d characters; want at most 200", n)
	}
}
