package config

import (
	"runtime"
	"strings"
)

// ExampleConfig returns a commented configuration for this platform,
// printed by `certfleet-agent example-config`. It parses (a test keeps it
// so).
func ExampleConfig() string {
	if runtime.GOOS == "windows" {
		return windowsExample
	}
	return strings.Replace(unixExample, "/var/lib/certfleet-agent", DefaultStateDir(), 1)
}

const unixExample = `# certfleet-agent configuration.
# Check it with: certfleet-agent check-config --config FILE

# Keys, state.json, the enrollment and NATS credentials live here (0700).
state_dir = "/var/lib/certfleet-agent"
log_level = "info"          # debug, info, warn, error

[hub]
# Written by "certfleet-agent enroll"; default <state_dir>/enrollment.json.
enrollment = ""
# Replace the enrollment's hub URLs (in order of preference), e.g. a site
# relay; then name the hub's certificate: tls_server_name = "hub.example.org".
# urls = ["tls://relay.site.example:4222"]
# tls_server_name = ""
# HTTP CONNECT proxy; default: HTTPS_PROXY / NO_PROXY from the environment.
# proxy_url = "http://user:password@proxy.example.org:3128"

# One [[certificate]] block per certificate to keep issued and installed.
[[certificate]]
name = "web"                                  # unique; used in status and renew
names = ["www.example.org", "example.org"]    # DNS names (SANs); "*.x" for a wildcard
key_type = "ec256"                            # ec384, rsa2048, rsa3072, rsa4096
profile = ""                                  # optional ACME profile offered by the CA

cert = "/etc/ssl/web/cert.pem"                # leaf only
chain = "/etc/ssl/web/chain.pem"              # intermediates (optional)
fullchain = "/etc/ssl/web/fullchain.pem"      # leaf + intermediates (optional)
key = "/etc/ssl/web/key.pem"                  # the private key, made on this host

# Unix only: owner and group of all the files, the key's mode and the
# others' mode. On Windows files inherit their directory's permissions.
owner = "root"
group = "root"
mode = "0640"
cert_mode = "0644"

# Run after new files are in place; if it fails, the previous files are
# put back and it runs again. An argv (no shell) ...
reload = ["systemctl", "reload", "nginx"]
# ... or a shell command line, or a systemd unit, or a signal to the
# process in a PID file (set only one):
# reload_shell = "nginx -t && systemctl reload nginx"
# reload_service = "nginx.service"
# reload_action = "reload"                  # restart, reload-or-restart
# reload_pid_file = "/run/nginx.pid"
# reload_signal = "HUP"                     # USR1, USR2, INT, TERM, QUIT, WINCH
reload_timeout = "30s"

# Renew this long before expiry instead of following the hub's advice
# (default: when a third of the lifetime is left).
# renew_before = "720h"

# After install and reload, check that the service presents the new
# certificate on this address; if it does not within check_timeout, put
# the previous files back, reload again and report the failure.
# check_tls = "127.0.0.1:443"
# check_server_name = "www.example.org"   # SNI; default the first non-wildcard name
# check_timeout = "10s"

# Certificates on this host that certfleet does not manage (yet): the
# agent scans these paths and the hub lists what it finds as unmanaged,
# with alerts before they expire. Files named like keys are never opened,
# and only certificates are read from the others. "*" matches within one
# path element, "**" any depth; a directory alone means its files.
# [inventory]
# paths = ["/etc/ssl/private/*.pem", "/etc/nginx/certs/**"]
# interval = "15m"              # scan again this often
# max_files = 1000              # files read per scan
# max_file_size = 1048576       # bytes; larger files are skipped unread
`

const windowsExample = `# certfleet-agent configuration.
# Check it with: certfleet-agent check-config --config FILE
# Paths are TOML literal strings ('...'), so backslashes need no escaping.

# Keys, state.json, the enrollment and NATS credentials live here; the
# agent restricts it to SYSTEM and Administrators.
state_dir = 'C:\ProgramData\certfleet-agent'
log_level = "info"          # debug, info, warn, error

[hub]
# Written by "certfleet-agent enroll"; default <state_dir>\enrollment.json.
enrollment = ""

# One [[certificate]] block per certificate to keep issued and installed.
[[certificate]]
name = "web"                                  # unique; used in status and renew
names = ["www.example.org", "example.org"]    # DNS names (SANs); "*.x" for a wildcard
key_type = "ec256"                            # ec384, rsa2048, rsa3072, rsa4096
profile = ""                                  # optional ACME profile offered by the CA

cert = 'C:\certfleet\web\cert.pem'          # leaf only
chain = 'C:\certfleet\web\chain.pem'        # intermediates (optional)
fullchain = 'C:\certfleet\web\fullchain.pem'# leaf + intermediates (optional)
key = 'C:\certfleet\web\key.pem'            # the private key, made on this host
# owner, group, mode and cert_mode apply on unix only; here files inherit
# the permissions of their directory, so keep that directory restricted.

# Run after new files are in place; if it fails, the previous files are
# put back and it runs again. An argv (no shell) ...
reload = ['C:\certfleet\reload.cmd']
# ... or a cmd.exe command line, a Windows service to restart, or a
# PowerShell command (set only one):
# reload_shell = "net stop MyService && net start MyService"
# reload_service = "W3SVC"
# reload_powershell = "Restart-WebAppPool -Name DefaultAppPool"

# Also as a PKCS#12 file (key, leaf, intermediates; AES-256) ...
# pfx = 'C:\certfleet\web.pfx'
# pfx_password = ""
# ... and/or in the certificate store, LocalMachine\My or WebHosting, under
# the friendly name "certfleet web <expiry date>", the key not exportable.
# The reload gets the new thumbprint in CERTFLEET_THUMBPRINT to bind it,
# e.g. netsh http update sslcert ipport=0.0.0.0:443 certhash=%CERTFLEET_THUMBPRINT% ...
# Once the reload (and check_tls) passed, the replaced certificate is
# removed from the store.
# windows_store = "My"
# friendly_name = "certfleet web"
# key_exportable = false
reload_timeout = "60s"

# Renew this long before expiry instead of following the hub's advice
# (default: when a third of the lifetime is left).
# renew_before = "720h"

# After install and reload, check that the service presents the new
# certificate on this address; if it does not within check_timeout, put
# the previous files back, reload again and report the failure.
# check_tls = "127.0.0.1:443"
# check_server_name = "www.example.org"   # SNI; default the first non-wildcard name
# check_timeout = "10s"

# Certificates on this host that certfleet does not manage (yet): the
# agent scans these paths and the hub lists what it finds as unmanaged,
# with alerts before they expire. Files named like keys (.key, .pfx, ...)
# are never opened, and only certificates are read from the others. "*"
# matches within one path element, "**" any depth.
# [inventory]
# paths = ['C:\certs\**']
# interval = "15m"
`
