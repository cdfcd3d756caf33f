package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TCP limits: RFC 7766 asks servers to bound connections and idle time.
// See tcpfair.go for how they are shared out.
const (
	maxTCPConns = 512
	// maxTCPConnsPerPrefix keeps one source prefix (/24, /56) from taking
	// every connection, so a CA's validator can still get in.
	maxTCPConnsPerPrefix = 32
	tcpFirstTimeout      = 5 * time.Second  // until the first query arrives
	tcpIdleTimeout       = 10 * time.Second // between queries on one connection
	// tcpPressureTimeout replaces both while more than 3/4 of maxTCPConns
	// are open, so idle connections make room quickly under a flood.
	tcpPressureTimeout = time.Second
	tcpWriteTimeout    = 5 * time.Second
)

// transport is the server's sockets and the goroutines serving them.
type transport struct {
	mu      sync.Mutex
	started bool
	closed  bool
	udp     *net.UDPConn
	tcp     net.Listener
	conns   map[net.Conn]connInfo // open TCP connections
	byPfx   map[uint64]int        // open TCP connections per source prefix
	lim     tcpLimits             // zero: defaultTCPLimits, set at Start
	squeeze bool                  // deadlines of open connections cut for pressure
	open    atomic.Int32          // len(conns), read without the lock
	done    chan struct{}
	wg      sync.WaitGroup
}

func (t *transport) udpAddr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.udp == nil {
		return nil
	}
	return t.udp.LocalAddr()
}

func (t *transport) tcpAddr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tcp == nil {
		return nil
	}
	return t.tcp.Addr()
}

// bufPool holds reply buffers big enough for any DNS message.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 2+maxTCPMsg); return &b }}

// Start binds UDP and TCP on Config.Listen (one port for both, also when
// the port is 0) and serves in the background until Close.
func (s *Server) Start() error {
	t := &s.net
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.closed {
		return errors.New("start dns server: already started or closed")
	}
	udp, tcp, err := listenPair(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("start dns server: %w", err)
	}
	t.started, t.udp, t.tcp = true, udp, tcp
	t.conns = make(map[net.Conn]connInfo)
	if t.lim == (tcpLimits{}) {
		t.lim = defaultTCPLimits()
	}
	t.byPfx = make(map[uint64]int)
	t.done = make(chan struct{})

	// Bound to every address, a reply must leave from the address the
	// query came to, or multi-homed hosts answer from the wrong one.
	sessions := udp.LocalAddr().(*net.UDPAddr).IP.IsUnspecified()
	if sessions {
		setUDPSocketOptions(udp)
	}
	workers := max(2, runtime.GOMAXPROCS(0))
	t.wg.Add(workers + 1)
	for range workers {
		go s.serveUDP(sessions)
	}
	go s.serveTCP()
	s.log.Info("dns server listening", "udp", udp.LocalAddr().String(), "tcp", tcp.Addr().String(),
		"zone", s.hub.origin, "rate_limit", s.cfg.RateLimit)
	return nil
}

// Close stops serving, closes every connection and waits for the serving
// goroutines. It is safe to call more than once, and before Start.
func (s *Server) Close() error {
	t := &s.net
	t.mu.Lock()
	if t.closed || !t.started {
		t.closed = true
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	err := errors.Join(t.udp.Close(), t.tcp.Close())
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	if err != nil {
		return fmt.Errorf("close dns server: %w", err)
	}
	return nil
}

// listenPair binds TCP and UDP on one address. With port 0 it takes the
// port TCP got for UDP too, retrying when UDP has that port taken.
func listenPair(addr string) (*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	attempts := 1
	if port == "0" {
		attempts = 20
	}
	for i := 0; ; i++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
		p := tcp.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return pc.(*net.UDPConn), tcp, nil
		}
		_ = tcp.Close()
		if i+1 >= attempts {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
	}
}

// setUDPSocketOptions asks for each datagram's destination address, which
// dns.ReadFromSessionUDP reads and dns.WriteToSessionUDP answers from. A
// platform without it still works, answering from the default source.
func setUDPSocketOptions(c *net.UDPConn) {
	_ = ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	_ = ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
}

// serveUDP reads and answers datagrams until the socket closes. Several
// run at once; each answers inline, which is cheap (memory only) and
// keeps the number of goroutines fixed under load.
func (s *Server) serveUDP(sessions bool) {
	t := &s.net
	defer t.wg.Done()
	in := make([]byte, maxTCPMsg)
	out := make([]byte, maxTCPMsg+1)
	for {
		var (
			n    int
			src  netip.AddrPort
			sess *dns.SessionUDP
			err  error
		)
		if sessions {
			n, sess, err = dns.ReadFromSessionUDP(t.udp, in)
			if err == nil {
				src = sess.RemoteAddr().(*net.UDPAddr).AddrPort()
			}
		} else {
			n, src, err = t.udp.ReadFromUDPAddrPort(in)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dns udp read", "error", err)
			if !t.pause(10 * time.Millisecond) {
				return
			}
			continue
		}
		resp := s.handle(out, in[:n], src.Addr().Unmap(), false)
		if resp == nil {
			continue
		}
		if sessions {
			_, err = dns.WriteToSessionUDP(t.udp, resp, sess)
		} else {
			_, err = t.udp.WriteToUDPAddrPort(resp, src)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("dns udp write", "to", src.String(), "error", err)
		}
	}
}

// pause waits d, reporting false when the server closes meanwhile.
func (t *transport) pause(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return false
	case <-timer.C:
		return true
	}
}

func (s *Server) serveTCP() {
	t := &s.net
	defer t.wg.Done()
	var delay time.Duration
	for {
		c, err := t.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("dns tcp accept", "error", err, "retry_in", delay)
			if !t.pause(delay) {
				return
			}
			continue
		}
		delay = 0
		if !t.track(c) {
			_ = c.Close()
			continue
		}
		go s.serveConn(c)
	}
}

// remoteAddr is the client address of a TCP connection.
func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// serveConn answers length-prefixed queries on one TCP connection, in
// order, until the client closes, idles out or sends something unusable.
func (s *Server) serveConn(c net.Conn) {
	t := &s.net
	defer t.untrack(c)
	src := remoteAddr(c)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	out := *bp
	var lenBuf [2]byte
	first := true
	for {
		_ = c.SetReadDeadline(time.Now().Add(t.readTimeout(first)))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		resp := s.handle(out[2:], req, src, true)
		if resp == nil {
			return // not a query: nothing sensible to say on this stream
		}
		n := copy(out[2:], resp) // a no-op unless packing needed a bigger buffer
		binary.BigEndian.PutUint16(out, uint16(n))
		_ = c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
		if _, err := c.Write(out[:2+n]); err != nil {
			return
		}
		first = false
	}
}
