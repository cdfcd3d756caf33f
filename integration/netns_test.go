//go:build linux

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netNS is a network namespace the test created, joined to the root
// namespace by a veth pair on a private /30 of 10.200.0.0/16: the root
// side has HostIP, the namespace side NSIP. The namespace has no other
// interface than its own loopback and no default route, so a process in
// it reaches only HostIP, where the test decides what listens.
type netNS struct {
	Name   string
	HostIP string
	NSIP   string
	HostIf string // the root namespace's end of the veth pair
}

// ipCmd runs ip(8) and fails the test on error.
func ipCmd(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// requireNetns skips when this machine does not let the test create
// network namespaces (not root, no ip(8), or a sandbox that forbids it).
func requireNetns(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("network namespace tests need root (CI runs them as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("ip(8) is missing: apt-get install iproute2 (.ci/run does)")
	}
	probe := fmt.Sprintf("cfprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		tb.Skipf("this machine forbids creating network namespaces: %v: %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
}

// newNetNS creates namespace number k (0-63) of this test process.
// Addresses derive from the pid, so two test processes rarely collide;
// an address already present on the machine fails the test loudly.
func newNetNS(tb testing.TB, k int) *netNS {
	tb.Helper()
	pid := os.Getpid()
	// One /30 per namespace; 10.200.0.0/16 holds 16,384 of them.
	base := ((pid%1000)*64 + k) % 16384 * 4
	hostIP := fmt.Sprintf("10.200.%d.%d", base/256, base%256+1)
	nsIP := fmt.Sprintf("10.200.%d.%d", base/256, base%256+2)
	if out, _ := exec.Command("ip", "-4", "addr").CombinedOutput(); strings.Contains(string(out), " "+hostIP+"/") || strings.Contains(string(out), " "+nsIP+"/") {
		tb.Fatalf("%s or %s is already configured on this machine", hostIP, nsIP)
	}
	hostIf := fmt.Sprintf("cfr%dh%d", pid%100000, k)
	n := &netNS{Name: fmt.Sprintf("cfreach%d-%d", pid, k), HostIP: hostIP, NSIP: nsIP, HostIf: hostIf}
	nsIf := fmt.Sprintf("cfr%dn%d", pid%100000, k)
	ipCmd(tb, "netns", "add", n.Name)
	tb.Cleanup(func() {
		// Deleting the namespace deletes its veth end and so the pair.
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v\n%s", n.Name, err, out)
		}
		_ = exec.Command("ip", "link", "del", hostIf).Run()
	})
	ipCmd(tb, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	ipCmd(tb, "link", "set", nsIf, "netns", n.Name)
	ipCmd(tb, "addr", "add", hostIP+"/30", "dev", hostIf)
	ipCmd(tb, "link", "set", hostIf, "up")
	ipCmd(tb, "-n", n.Name, "addr", "add", nsIP+"/30", "dev", nsIf)
	ipCmd(tb, "-n", n.Name, "link", "set", nsIf, "up")
	ipCmd(tb, "-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Dial dials addr from inside the namespace and closes the connection.
// It runs on a locked OS thread that enters the namespace and is then
// thrown away (the goroutine exits without unlocking), so the rest of
// the test process stays in the root namespace.
func (n *netNS) Dial(addr string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + n.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	return <-errc
}

// freePortOn returns a port free on ip now.
func freePortOn(tb testing.TB, ip string) int {
	tb.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
