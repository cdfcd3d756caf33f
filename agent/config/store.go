package config

import (
	"runtime"
	"unicode/utf8"
)

// Windows certificate stores a block may install into (LocalMachine).
var windowsStores = []string{"My", "WebHosting"}

func (c Certificate) validateWindowsStore(f string, add func(field, format string, args ...any)) {
	if c.PFXPassword != "" && c.PFX == "" {
		add(f+".pfx_password", "set without pfx")
	}
	if c.WindowsStore == "" {
		if c.KeyExportable {
			add(f+".key_exportable", "set without windows_store")
		}
		if c.FriendlyName != "" {
			add(f+".friendly_name", "set without windows_store")
		}
		return
	}
	if runtime.GOOS != "windows" {
		add(f+".windows_store", "the Windows certificate store exists only on Windows; use cert/key or pfx files")
		return
	}
	ok := false
	for _, s := range windowsStores {
		ok = ok || c.WindowsStore == s
	}
	if !ok {
		add(f+".windows_store", "%q: want My or WebHosting", c.WindowsStore)
	}
	if n := utf8.RuneCountInString(c.FriendlyName); n > 200 {
		add(f+".friendly_name", "%d characters, limit 200", n)
	}
}
