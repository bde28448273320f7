package sockdiag

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// A testSock is a socket a test opened, with what the socket itself says
// about it: the dump must agree.
type testSock struct {
	name string
	conn syscall.Conn // the socket, for Close and fd access
	// want is the socket as the dump must report it; NetNS is left zero.
	want model.Socket
}

func (s *testSock) query() Query {
	q := Query{Proto: s.want.Proto, Family: 4}
	if s.want.Local.Addr().Is6() {
		q.Family = 6
	}
	return q
}

// v6onlyOpt sets IPV6_V6ONLY before bind: -1 leaves Go's default.
func listenConfig(v6only int) net.ListenConfig {
	return net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		if v6only < 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
		})
		if err != nil {
			return err
		}
		return serr
	}}
}

func listenTCP(t testing.TB, network, addr string, v6only int) *net.TCPListener {
	t.Helper()
	lc := listenConfig(v6only)
	l, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		testutil.Missing(t, "listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

func listenUDP(t testing.TB, network, addr string, v6only int) *net.UDPConn {
	t.Helper()
	lc := listenConfig(v6only)
	c, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		testutil.Missing(t, "listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// fdInfo reads, from the socket's descriptor, its inode (fstat), whether it
// is IPv6 (SO_DOMAIN) and its IPV6_V6ONLY setting.
func fdInfo(t testing.TB, c syscall.Conn) (inode uint64, v6only model.Tristate) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if ferr = unix.Fstat(int(fd), &st); ferr != nil {
			return
		}
		inode = st.Ino
		var domain int
		if domain, ferr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); ferr != nil || domain != unix.AF_INET6 {
			return
		}
		var v int
		if v, ferr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); ferr == nil {
			v6only = model.Bool(v != 0)
		}
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		t.Fatalf("reading socket fd: %v", err)
	}
	return inode, v6only
}

// addrPort converts a net.Addr of a socket of the given family to the form
// the dump reports: IPv4 for AF_INET, IPv6 (mapped if need be) otherwise.
func addrPort(t testing.TB, a net.Addr, v6 bool) netip.AddrPort {
	t.Helper()
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		t.Fatalf("unexpected address type %T", a)
	}
	if v6 {
		return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// somaxconn is the kernel's cap on a listen backlog, which Go also uses as
// its backlog: the SendQ a dump reports for a Go listener.
func somaxconn(t testing.TB) uint32 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(min(n, 1<<16-1))
}

// newTestSock describes an open socket from the socket's side.
func newTestSock(t testing.TB, name string, c syscall.Conn, proto model.Proto, state model.State, v6 bool) *testSock {
	t.Helper()
	ino, v6only := fdInfo(t, c)
	s := &testSock{name: name, conn: c}
	s.want = model.Socket{Proto: proto, State: state, Inode: ino, UID: uint32(os.Geteuid()), V6Only: v6only}
	switch c := c.(type) {
	case *net.TCPListener:
		s.want.Local = addrPort(t, c.Addr(), v6)
		s.want.SendQ = somaxconn(t)
	case *net.TCPConn:
		s.want.Local = addrPort(t, c.LocalAddr(), v6)
		s.want.Remote = addrPort(t, c.RemoteAddr(), v6)
	case *net.UDPConn:
		s.want.Local = addrPort(t, c.LocalAddr(), v6)
		if r := c.RemoteAddr(); r != nil {
			s.want.Remote = addrPort(t, r, v6)
		}
	}
	// The kernel reports IPV6_V6ONLY only for listening and unconnected
	// sockets.
	if state != model.Listen && state != model.Close {
		s.want.V6Only = model.Unknown
	}
	return s
}

// openTestSockets opens one socket of every kind the package must report:
// TCP listeners (IPv4, IPv6-only, dual-stack), UDP sockets (IPv4, IPv6-only,
// dual-stack), a connected UDP socket, and both ends of an established
// IPv4 and an established IPv6 connection.
func openTestSockets(t testing.TB) []*testSock {
	t.Helper()
	testutil.NeedKernel(t, "CONFIG_INET_DIAG")
	var socks []*testSock
	add := func(s *testSock) { socks = append(socks, s) }

	l4 := listenTCP(t, "tcp4", "127.0.0.1:0", -1)
	add(newTestSock(t, "tcp4 listener", l4, model.TCP, model.Listen, false))
	l6 := listenTCP(t, "tcp6", "[::1]:0", 1)
	add(newTestSock(t, "tcp6 v6only listener", l6, model.TCP, model.Listen, true))
	ld := listenTCP(t, "tcp", "[::]:0", 0)
	add(newTestSock(t, "tcp6 dual-stack listener", ld, model.TCP, model.Listen, true))

	add(newTestSock(t, "udp4", listenUDP(t, "udp4", "127.0.0.1:0", -1), model.UDP, model.Close, false))
	add(newTestSock(t, "udp6 v6only", listenUDP(t, "udp6", "[::1]:0", 1), model.UDP, model.Close, true))
	add(newTestSock(t, "udp6 dual-stack", listenUDP(t, "udp", "[::]:0", 0), model.UDP, model.Close, true))

	peer := listenUDP(t, "udp4", "127.0.0.1:0", -1)
	cu, err := net.DialUDP("udp4", nil, peer.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cu.Close() })
	add(newTestSock(t, "udp4 connected", cu, model.UDP, model.Established, false))

	for _, l := range []struct {
		name string
		l    *net.TCPListener
		v6   bool
	}{{"tcp4", l4, false}, {"tcp6", l6, true}} {
		client, server := connect(t, l.l)
		add(newTestSock(t, l.name+" client", client, model.TCP, model.Established, l.v6))
		add(newTestSock(t, l.name+" server", server, model.TCP, model.Established, l.v6))
	}
	return socks
}

// connect opens a loopback connection to l and returns both ends.
func connect(t testing.TB, l *net.TCPListener) (client, server *net.TCPConn) {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, l.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := l.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c, s
}

// cgroupV2ID returns the ID of this process's cgroup v2: the inode of its
// directory in the cgroup2 file system.
func cgroupV2ID() (uint64, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	mount := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && fields[3] == "/" {
				mount = fields[4]
			}
		}
	}
	if mount == "" {
		return 0, false
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			var st unix.Stat_t
			if unix.Stat(mount+p, &st) != nil {
				return 0, false
			}
			return st.Ino, true
		}
	}
	return 0, false
}

// currentNetNS is the inode of the calling thread's network namespace.
func currentNetNS(t testing.TB) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// findInode returns the socket with the given inode, or nil.
func findInode(ss []model.Socket, ino uint64) *model.Socket {
	for i := range ss {
		if ss[i].Inode == ino {
			return &ss[i]
		}
	}
	return nil
}

func dial(t testing.TB, netnsFD int) *Conn {
	t.Helper()
	testutil.NeedRoot(t) // unprivileged dumps work, but the tests enter namespaces
	c, err := Dial(netnsFD)
	if err != nil {
		testutil.Missing(t, "Dial(%d) = %v", netnsFD, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawDump sends req and returns the reply's socket messages, netlink
// headers included, as the kernel sent them.
func rawDump(t testing.TB, c *Conn, req *Request) [][]byte {
	t.Helper()
	c.seq++
	seq := c.seq
	b, err := appendDumpRequest(c.req[:0], seq, req)
	if err != nil {
		t.Fatal(err)
	}
	c.req = b
	if err := c.write(); err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for {
		n, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		b := c.buf[:n]
		for len(b) >= nlmsgHdrLen {
			l := int(ne.Uint32(b[0:4]))
			typ := ne.Uint16(b[4:6])
			if ne.Uint32(b[8:12]) == seq {
				switch typ {
				case sockDiagByFamily:
					msgs = append(msgs, append([]byte(nil), b[:l]...))
				case nlmsgDone, nlmsgError:
					return msgs
				}
			}
			b = b[min(align4(l), len(b)):]
		}
	}
}

func (s *testSock) String() string { return fmt.Sprintf("%s %v", s.name, s.want.Local) }
