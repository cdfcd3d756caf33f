package client

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/shared"
)

// authWorld is a NATS server in operator mode, like the hub's: users
// authenticate with JWTs signed by an account key, and the server ends a
// connection when the JWT it was opened with expires.
type authWorld struct {
	url     string
	account nkeys.KeyPair
}

func startAuthServer(tb testing.TB) *authWorld {
	tb.Helper()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.SystemAccount = sysPub
	if _, err := oc.Encode(op); err != nil {
		tb.Fatal(err)
	}
	res := &server.MemAccResolver{}
	for pub, name := range map[string]string{sysPub: "SYS", accPub: "CERTFLEET"} {
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		tok, err := ac.Encode(op)
		if err != nil {
			tb.Fatal(err)
		}
		if err := res.Store(pub, tok); err != nil {
			tb.Fatal(err)
		}
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		TrustedOperators: []*jwt.OperatorClaims{oc}, AccountResolver: res, SystemAccount: sysPub,
	})
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &authWorld{url: s.ClientURL(), account: acc}
}

// userJWT signs a user JWT for pub expiring at exp (zero: never).
func (w *authWorld) userJWT(tb testing.TB, pub string, exp time.Time) string {
	tb.Helper()
	uc := jwt.NewUserClaims(pub)
	uc.Name = id
	if !exp.IsZero() {
		uc.Expires = exp.Unix()
	}
	tok, err := uc.Encode(w.account)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// credsFile writes a credentials file for a fresh user key and returns
// its path and public key.
func (w *authWorld) credsFile(tb testing.TB, exp time.Time) (string, string) {
	tb.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	path := filepath.Join(tb.TempDir(), "agent.creds")
	if err := os.WriteFile(path, FormatCreds(w.userJWT(tb, pub, exp), seed), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, pub
}

// hub connects as a user that never expires.
func (w *authWorld) hub(tb testing.TB) *nats.Conn {
	tb.Helper()
	path, _ := w.credsFile(tb, time.Time{})
	nc, err := nats.Connect(w.url, nats.UserCredentials(path))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// connLog records when the client (re)connected and why it was cut.
type connLog struct {
	mu       sync.Mutex
	connects []time.Time
	ch       chan struct{}
}

func (l *connLog) onConnect() {
	l.mu.Lock()
	l.connects = append(l.connects, time.Now())
	l.mu.Unlock()
	l.ch <- struct{}{}
}

func (l *connLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.connects...)
}

func (l *connLog) wait(tb testing.TB, what string) {
	tb.Helper()
	select {
	case <-l.ch:
	case <-time.After(10 * time.Second):
		tb.Fatalf("no connect: %s", what)
	}
}

// TestCredsRenewalReconnectsBeforeExpiry: the hub renews a JWT that is
// about to expire; the client answers with an Ack, stores it and
// reconnects at once, so the server never cuts it at the old expiry.
func TestCredsRenewalReconnectsBeforeExpiry(t *testing.T) {
	w := startAuthServer(t)
	hub := w.hub(t)
	// NATS expiry has one-second resolution: three seconds leaves at
	// least two for the renewal.
	original := time.Now().Add(3 * time.Second).Truncate(time.Second)
	path, pub := w.credsFile(t, original)
	var logBuf syncBuffer
	log := &connLog{ch: make(chan struct{}, 8)}
	c, err := Connect(Options{AgentID: id, URLs: []string{w.url}, CredsFile: path, OnConnect: log.onConnect, Logger: newTestLogger(&logBuf)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	log.wait(t, "first connect")
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	other, _ := nkeys.CreateUser()
	otherPub, _ := other.PublicKey()
	renewed := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		jwt  string
		want string // error message part; "" = Ack
	}{
		{"other key", w.userJWT(t, otherPub, renewed), "not this agent's key"},
		{"expired", w.userJWT(t, pub, time.Now().Add(-time.Minute)), "expired"},
		{"renewed", w.userJWT(t, pub, renewed), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := hubRequest(hub, shared.Down(id, shared.VerbCreds), shared.MustEncode(&shared.CredsUpdate{JWT: tc.jwt}), 5*time.Second)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			err = shared.DecodeReply(resp.Data, &shared.Ack{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("answer %v, want an Ack", err)
				}
				return
			}
			if shared.CodeOf(err) != shared.CodeBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("answer %v, want bad_request saying %q", err, tc.want)
			}
			if n := len(log.times()); n != 1 {
				t.Errorf("%d connects after a refused renewal, want no reconnect", n)
			}
		})
	}
	stored, _, err := ReadCreds(path)
	if err != nil {
		t.Fatal(err)
	}
	if claims, _ := ParseJWTClaims(stored); claims == nil || claims.Subject != pub || claims.Expires != renewed.Unix() {
		t.Fatalf("credentials file holds %+v, want the renewed JWT", claims)
	}
	log.wait(t, "reconnect with the renewed JWT")
	if at := log.times()[1]; !at.Before(original) {
		t.Fatalf("reconnected at %s, not before the old JWT expired at %s", at.Format(time.RFC3339Nano), original.Format(time.RFC3339))
	}

	// Past the old expiry the same connection is up and works.
	time.Sleep(time.Until(original.Add(1500 * time.Millisecond))) // the server's expiry timer must have had its chance
	if !c.Connected() {
		t.Fatalf("disconnected after the old JWT's expiry:\n%s", logBuf.String())
	}
	if n := len(log.times()); n != 2 {
		t.Fatalf("%d connects, want 2 (one forced reconnect):\n%s", n, logBuf.String())
	}
	if err := c.nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("round trip after the old expiry: %v", err)
	}
	if strings.Contains(strings.ToLower(logBuf.String()), "authentication expired") {
		t.Fatalf("the server cut the connection for an expired JWT:\n%s", logBuf.String())
	}

	// The same JWT again is acknowledged without another reconnect.
	resp, err := hubRequest(hub, shared.Down(id, shared.VerbCreds), shared.MustEncode(&shared.CredsUpdate{JWT: stored}), 5*time.Second)
	if err != nil || shared.DecodeReply(resp.Data, &shared.Ack{}) != nil {
		t.Fatalf("repeat renewal: %v", err)
	}
	if err := c.nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(log.times()); n != 2 {
		t.Errorf("%d connects after a repeated JWT, want no reconnect", n)
	}
}

// syncBuffer is a log sink shared by the client's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
