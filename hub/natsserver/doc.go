// Package natsserver runs the hub's embedded NATS server with JetStream:
// TLS required on the client port (unless plaintext is explicitly allowed,
// for tests), operator-mode JWT auth from natsauth, and optional
// sync-on-every-write for single-node durability. Start returns once the
// server accepts connections; Shutdown waits until it has stopped.
package natsserver
