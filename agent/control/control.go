// Package control is the local command channel of a running agent: a unix
// socket in the agent's private state dir (mode 0600) over which the CLI
// asks the daemon to renew now and waits for the outcome.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

// maxRequest bounds a request line.
const maxRequest = 64 << 10

// readTimeout bounds how long a client may take to send its request.
const readTimeout = 10 * time.Second

// Operations.
const (
	OpRenew = "renew"
)

// Request is one command, sent as a JSON line.
type Request struct {
	Op string `json:"op"`
	// Cert is the block to renew; empty means all.
	Cert string `json:"cert,omitempty"`
}

// Outcome is the result of renewing one block.
type Outcome struct {
	Cert     string    `json:"cert"`
	Status   string    `json:"status"` // "issued" or "failed"
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// Response answers a Request.
type Response struct {
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	Outcomes []Outcome `json:"outcomes,omitempty"`
}

// Handler carries out requests.
type Handler interface {
	// Renew renews cert ("" = all) now and returns when every block has
	// an outcome or ctx ends.
	Renew(ctx context.Context, cert string) ([]Outcome, error)
}

// ErrNoAgent is returned by the client functions when no agent listens on
// the socket.
var ErrNoAgent = errors.New("no running agent")

// Server listens on the control socket.
type Server struct {
	ln     net.Listener
	h      Handler
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Listen creates the socket at path (replacing a stale one: the caller
// holds the state dir lock, so no other agent uses it) and serves
// requests until Close. On a system without unix sockets the error is
// errors.ErrUnsupported.
func Listen(path string, h Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil && noUnixSockets(err) {
		return nil, fmt.Errorf("listen on control socket: %w: no unix sockets on this system (Windows before 10 1803, or wine): %w", errors.ErrUnsupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil && runtime.GOOS != "windows" {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{ln: ln, h: h, logger: logger, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Close stops listening, cancels running requests and waits for them.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close control socket: %w", err)
	}
	return nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.logger.Warn("control socket accept failed", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	req, err := ReadRequest(conn)
	if err != nil {
		s.reply(conn, Response{Error: err.Error()})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	// The request ends when the client goes away: watch for EOF.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		cancel()
	}()
	switch req.Op {
	case OpRenew:
		out, err := s.h.Renew(ctx, req.Cert)
		if err != nil {
			s.reply(conn, Response{Error: err.Error(), Outcomes: out})
			return
		}
		s.reply(conn, Response{OK: true, Outcomes: out})
	default:
		s.reply(conn, Response{Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

func (s *Server) reply(conn net.Conn, r Response) {
	_ = conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := json.NewEncoder(conn).Encode(r); err != nil {
		s.logger.Debug("control reply not delivered", "err", err)
	}
}

// ReadRequest reads and checks one request line.
func ReadRequest(r io.Reader) (*Request, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxRequest), 4096).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, fmt.Errorf("read request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if req.Op == "" {
		return nil, errors.New("read request: no op")
	}
	return &req, nil
}

// Renew asks the agent listening at path to renew cert ("" = all) and
// waits for the outcomes. It returns ErrNoAgent when nothing listens.
func Renew(ctx context.Context, path, cert string) ([]Outcome, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		// Missing socket, refused, stale file: whatever the platform's
		// error, nobody is serving. The caller's fallback takes the state
		// dir lock, which tells a live-but-broken agent apart.
		return nil, fmt.Errorf("%w (%s): %w", ErrNoAgent, path, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(Request{Op: OpRenew, Cert: cert}); err != nil {
		return nil, fmt.Errorf("send renew request: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(io.LimitReader(conn, 16<<20)).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wait for renew: %w", ctx.Err())
		}
		return nil, fmt.Errorf("read renew answer: %w", err)
	}
	if !resp.OK {
		return resp.Outcomes, fmt.Errorf("agent: %s", resp.Error)
	}
	return resp.Outcomes, nil
}
