// Package datadir is the layout of the hub's data directory: where the
// hub keeps its NATS keys and credentials, its TLS material, ACME accounts
// and JetStream store, and the run file a running hub leaves for the CLI.
//
// It is a leaf package (standard library only) so that the admin CLI, the
// integration harness and tools can find the hub's files without linking
// the hub itself (hub/service).
//
//	<data_dir>/
//	  run.json        written when the hub is ready, removed on a clean stop
//	  nats/           operator-mode keys, JWTs and creds (package natsauth)
//	  tls/            the NATS client port's private CA and certificate
//	  acme/<ca>/      ACME account key and registration per [[ca]]
//	  acmedns/        the acme-dns API's own certificate (tls = "self")
//	  web/            the dashboard's own certificate ([web] tls = "self")
//	  jetstream/      the embedded server's store
package datadir

import "path/filepath"

// Dir is a hub data directory (config data_dir).
type Dir string

// Subdirectories.
const (
	authDir      = "nats"
	tlsDir       = "tls"
	acmeDir      = "acme"
	acmeDNSDir   = "acmedns"
	webDir       = "web"
	jetStreamDir = "jetstream"
)

// Files in Auth, written by natsauth.Init.
const (
	OperatorSeed      = "operator.nk"
	OperatorJWT       = "operator.jwt"
	SystemSeed        = "system-account.nk"
	SystemJWT         = "system-account.jwt"
	AccountSeed       = "account.nk"  // CERTFLEET, the hub's account
	AccountJWT        = "account.jwt" //
	AgentsSeed        = "agents-account.nk"
	AgentsJWT         = "agents-account.jwt"
	AgentsSigner      = "agents-signing.nk" // the agents' account's scoped signing key
	LegacyAgentSigner = "agent-signing.nk"  // layout 1; see natsauth
	HubCreds          = "hub.creds"
	AdminCreds        = "admin.creds"
	SystemCreds       = "system.creds"
)

// Files in TLS, written by natsauth.InitTLS.
const (
	CAFile         = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
)

// RunFileName is the run file's name in the data directory.
const RunFileName = "run.json"

// Auth is the directory of the hub's NATS keys, JWTs and credentials.
func (d Dir) Auth() string { return filepath.Join(string(d), authDir) }

// TLS is the directory of the NATS client port's CA and certificate.
func (d Dir) TLS() string { return filepath.Join(string(d), tlsDir) }

// ACME is the directory of the ACME accounts, one subdirectory per CA.
func (d Dir) ACME() string { return filepath.Join(string(d), acmeDir) }

// ACMEDNS is the directory of the acme-dns API's own certificate.
func (d Dir) ACMEDNS() string { return filepath.Join(string(d), acmeDNSDir) }

// Web is the directory of the dashboard's own certificate.
func (d Dir) Web() string { return filepath.Join(string(d), webDir) }

// JetStream is the embedded NATS server's store.
func (d Dir) JetStream() string { return filepath.Join(string(d), jetStreamDir) }

// AdminCredsFile is the admin user's credentials, which admin commands
// use by default.
func (d Dir) AdminCredsFile() string { return filepath.Join(d.Auth(), AdminCreds) }

// CAFile is the PEM CA the NATS client port's certificate chains to,
// which admin commands trust by default.
func (d Dir) CAFile() string { return filepath.Join(d.TLS(), CAFile) }

// RunFile is the path of the run file.
func (d Dir) RunFile() string { return filepath.Join(string(d), RunFileName) }
