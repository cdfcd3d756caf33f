package service

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// fileCert serves a certificate from files and reloads it when they
// change, so a renewal by another tool needs no hub restart.
type fileCert struct {
	certFile, keyFile string
	what              string // the config keys, for errors
	mu                sync.Mutex
	cert              *tls.Certificate
	mod               time.Time
}

func newFileCert(certFile, keyFile, what string) (*fileCert, error) {
	fc := &fileCert{certFile: certFile, keyFile: keyFile, what: what}
	if _, err := fc.get(nil); err != nil {
		return nil, err
	}
	return fc, nil
}

func (fc *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	mod := time.Time{}
	for _, f := range []string{fc.certFile, fc.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			if fc.cert != nil {
				return fc.cert, nil
			}
			return nil, fmt.Errorf("load %s: %w", fc.what, err)
		}
		if st.ModTime().After(mod) {
			mod = st.ModTime()
		}
	}
	if fc.cert != nil && !mod.After(fc.mod) {
		return fc.cert, nil
	}
	c, err := tls.LoadX509KeyPair(fc.certFile, fc.keyFile)
	if err != nil {
		if fc.cert != nil {
			// Half-written renewal: keep serving the previous pair.
			return fc.cert, nil
		}
		return nil, fmt.Errorf("load %s: %w", fc.what, err)
	}
	fc.cert, fc.mod = &c, mod
	return fc.cert, nil
}
