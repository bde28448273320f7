package sockdiag

import (
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// dumpAll dumps every socket of q's protocol and family.
func dumpAll(t testing.TB, c *Conn, q Query) []model.Socket {
	t.Helper()
	ss, err := c.AppendSockets(nil, q)
	if err != nil {
		t.Fatalf("AppendSockets(%v) = %v", q, err)
	}
	return ss
}

func TestDumpFindsOwnSockets(t *testing.T) {
	c := dial(t, -1)
	socks := openTestSockets(t)
	ns := model.NetNS{Inode: currentNetNS(t)}
	cgroup, haveCgroup := cgroupV2ID()
	for _, s := range socks {
		t.Run(s.name, func(t *testing.T) {
			q := s.query()
			got := findInode(dumpAll(t, c, q), s.want.Inode)
			if got == nil {
				t.Fatalf("AppendSockets(%v) has no socket with inode %d (%v)", q, s.want.Inode, s)
			}
			want := s.want
			want.NetNS = ns
			if diff := cmp.Diff(want, *got, cmpAddrs); diff != "" {
				t.Errorf("AppendSockets(%v) mismatch (-want +got):\n%s", q, diff)
			}

			// The attributes the model has no field for: check them on
			// the raw message.
			if !haveCgroup {
				return
			}
			req := Request{Family: AFInet, Protocol: uint8(q.Proto), States: uint32(model.AllStates)}
			if q.Family == 6 {
				req.Family = AFInet6
			}
			req.Bytecode, _ = AppendPortFilter(nil, []PortRange{{s.want.Local.Port(), s.want.Local.Port()}})
			for _, msg := range rawDump(t, c, &req) {
				var m Message
				if err := m.UnmarshalBinary(msg[nlmsgHdrLen:]); err != nil {
					t.Fatal(err)
				}
				if uint64(m.Inode) != s.want.Inode {
					continue
				}
				if m.CgroupID != cgroup {
					t.Errorf("CgroupID = %d; want %d, this process's cgroup v2", m.CgroupID, cgroup)
				}
				if !m.HasShutdown || m.Shutdown != 0 {
					t.Errorf("Shutdown = %d, HasShutdown = %v; want 0, true", m.Shutdown, m.HasShutdown)
				}
			}
		})
	}
}

func TestDumpQueues(t *testing.T) {
	c := dial(t, -1)
	l := listenTCP(t, "tcp4", "127.0.0.1:0", -1)
	client, server := connect(t, l)
	// A second connection stays in the accept queue: the listener's RecvQ.
	pending, err := net.DialTCP("tcp4", nil, l.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	lino, _ := fdInfo(t, l)
	sino, _ := fdInfo(t, server)
	q := Query{Proto: model.TCP, Family: 4}

	// Loopback delivers at once in practice, but nothing promises it:
	// poll briefly for the bytes and the queued connection to show.
	var gotL, gotS *model.Socket
	for deadline := time.Now().Add(5 * time.Second); ; {
		ss := dumpAll(t, c, q)
		gotL, gotS = findInode(ss, lino), findInode(ss, sino)
		if gotL != nil && gotS != nil && gotL.RecvQ == 1 && gotS.RecvQ == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if gotL == nil || gotS == nil {
		t.Fatalf("listener or server socket missing from the dump")
	}
	if gotL.RecvQ != 1 || gotL.SendQ != somaxconn(t) {
		t.Errorf("listener RecvQ, SendQ = %d, %d; want 1 (one connection to accept), %d", gotL.RecvQ, gotL.SendQ, somaxconn(t))
	}
	if gotS.RecvQ != 5 || gotS.SendQ != 0 {
		t.Errorf("server RecvQ, SendQ = %d, %d; want 5 (unread bytes), 0", gotS.RecvQ, gotS.SendQ)
	}
}

func TestDumpStateFilter(t *testing.T) {
	c := dial(t, -1)
	socks := openTestSockets(t)
	tests := []struct {
		name   string
		proto  model.Proto
		states model.StateMask
	}{
		{"tcp listeners", model.TCP, 1 << model.Listen},
		{"tcp established", model.TCP, 1 << model.Established},
		{"tcp listeners and established", model.TCP, 1<<model.Listen | 1<<model.Established},
		{"tcp all (zero mask)", model.TCP, 0},
		{"udp unconnected", model.UDP, 1 << model.Close},
		{"udp connected", model.UDP, 1 << model.Established},
		{"tcp time-wait only", model.TCP, 1 << model.TimeWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mask := tt.states
			if mask == 0 {
				mask = model.AllStates
			}
			for _, family := range []int{4, 6} {
				q := Query{Proto: tt.proto, Family: family, States: tt.states}
				ss := dumpAll(t, c, q)
				for _, s := range ss {
					if !mask.Has(s.State) {
						t.Errorf("AppendSockets(%v, states %#x) returned %v in state %v", q, tt.states, s.Local, s.State)
					}
				}
				for _, s := range socks {
					if s.query().Family != family || s.want.Proto != tt.proto {
						continue
					}
					found := findInode(ss, s.want.Inode) != nil
					if want := mask.Has(s.want.State); found != want {
						t.Errorf("AppendSockets(%v, states %#x) has %v = %v; want %v", q, tt.states, s, found, want)
					}
				}
			}
		})
	}
}

func TestDumpPortFilter(t *testing.T) {
	c := dial(t, -1)
	// Six listeners per protocol and family, sorted by port.
	type sock struct {
		port  uint16
		inode uint64
	}
	open := func(proto model.Proto, family int) []sock {
		var out []sock
		for range 6 {
			var sc interface {
				Close() error
				LocalAddr() net.Addr
			}
			switch {
			case proto == model.TCP && family == 4:
				l := listenTCP(t, "tcp4", "127.0.0.1:0", -1)
				sc = tcpListenerAddr{l}
			case proto == model.TCP:
				sc = tcpListenerAddr{listenTCP(t, "tcp6", "[::1]:0", 1)}
			case family == 4:
				sc = listenUDP(t, "udp4", "127.0.0.1:0", -1)
			default:
				sc = listenUDP(t, "udp6", "[::1]:0", 1)
			}
			var ino uint64
			switch s := sc.(type) {
			case tcpListenerAddr:
				ino, _ = fdInfo(t, s.TCPListener)
			case *net.UDPConn:
				ino, _ = fdInfo(t, s)
			}
			out = append(out, sock{addrPort(t, sc.LocalAddr(), family == 6).Port(), ino})
		}
		slices.SortFunc(out, func(a, b sock) int { return int(a.port) - int(b.port) })
		return out
	}
	for _, pf := range []struct {
		proto  model.Proto
		family int
	}{{model.TCP, 4}, {model.TCP, 6}, {model.UDP, 4}, {model.UDP, 6}} {
		socks := open(pf.proto, pf.family)
		p := func(i int) uint16 { return socks[i].port }
		tests := []struct {
			name   string
			ranges []PortRange
		}{
			{"one port", []PortRange{{p(2), p(2)}}},
			{"one range", []PortRange{{p(1), p(3)}}},
			{"two single ports", []PortRange{{p(0), p(0)}, {p(5), p(5)}}},
			{"three ranges, unsorted", []PortRange{{p(4), p(5)}, {p(0), p(0)}, {p(2), p(2)}}},
			{"ranges around, not on, the ports", []PortRange{{0, p(0) - 1}, {p(0) + 1, p(1) - 1}, {p(5) + 1, 65535}}},
			{"every port", []PortRange{{0, 65535}}},
			{"many ranges", func() []PortRange {
				var rs []PortRange
				for i := range 500 {
					rs = append(rs, PortRange{uint16(1 + 2*i), uint16(1 + 2*i)}) // odd ports 1..999
				}
				return append(rs, PortRange{p(3), p(3)})
			}()},
		}
		for _, tt := range tests {
			q := Query{Proto: pf.proto, Family: pf.family, Ports: tt.ranges}
			t.Run(q.String()+" "+tt.name, func(t *testing.T) {
				ss := dumpAll(t, c, q)
				for _, s := range ss {
					if !q.matchPort(s.Local.Port()) {
						t.Errorf("AppendSockets(%v) returned %v, outside %v", q, s.Local, tt.ranges)
					}
				}
				for _, s := range socks {
					found := findInode(ss, s.inode) != nil
					if want := q.matchPort(s.port); found != want {
						t.Errorf("AppendSockets(%v): port %d found = %v; want %v", q, s.port, found, want)
					}
				}
			})
		}
	}
}

type tcpListenerAddr struct{ *net.TCPListener }

func (l tcpListenerAddr) LocalAddr() net.Addr { return l.Addr() }

func TestDumpRejectedBytecode(t *testing.T) {
	c := dial(t, -1)
	tests := []struct {
		name string
		bc   []byte
	}{
		{"yes of 0", appendOp(nil, bcJmp, 0, 4)},
		{"port op without its port", appendOp(nil, bcSGE, 4, 8)},
		{"no jumps into the middle of an op", cat(appendOp(nil, bcSGE, 8, 6), appendOp(nil, 0, 0, 80))},
		{"unknown op", appendOp(nil, 200, 4, 8)},
		{"jump past the end", cat(appendOp(nil, bcSGE, 8, 16), appendOp(nil, 0, 0, 80))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if kernelAudit(tt.bc) {
				t.Fatalf("kernelAudit(% x) = true; the test model of the audit disagrees with the case", tt.bc)
			}
			req := Request{Family: AFInet, Protocol: ipprotoTCP, States: 1 << model.Listen, Bytecode: tt.bc}
			_, err := c.appendDump(nil, &req, Query{Proto: model.TCP, Family: 4})
			if !errors.Is(err, unix.EINVAL) {
				t.Errorf("dump with bytecode % x = %v; want EINVAL", tt.bc, err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("dump with bytecode % x = %v; must not wrap ErrUnavailable", tt.bc, err)
			}
		})
	}
	// The Conn still works.
	dumpAll(t, c, Query{Proto: model.TCP, Family: 4, Ports: []PortRange{{1, 2}}})
}

func TestDumpUnavailable(t *testing.T) {
	c := dial(t, -1)
	// No kernel registers an inet_diag handler for protocol 253 (reserved
	// for experiments), so the kernel answers ENOENT, as it does when
	// udp_diag is not loaded.
	req := Request{Family: AFInet, Protocol: 253, States: uint32(model.AllStates)}
	dst := []model.Socket{{Inode: 1}}
	got, err := c.appendDump(dst, &req, Query{Proto: 253, Family: 4})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("dump of protocol 253 = %v; want ErrUnavailable and ENOENT", err)
	}
	if len(got) != 1 || got[0].Inode != 1 {
		t.Errorf("dump of protocol 253 changed dst to %v", got)
	}
	if _, err := c.AppendSockets(nil, Query{Proto: 253, Family: 4}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("AppendSockets(protocol 253) = %v; want a validation error", err)
	}
	dumpAll(t, c, Query{Proto: model.UDP, Family: 6})
}

func TestDumpAppends(t *testing.T) {
	c := dial(t, -1)
	l := listenTCP(t, "tcp4", "127.0.0.1:0", -1)
	ino, _ := fdInfo(t, l)
	port := addrPort(t, l.Addr(), false).Port()
	q := Query{Proto: model.TCP, Family: 4, States: 1 << model.Listen, Ports: []PortRange{{port, port}}}
	prefix := []model.Socket{{Inode: 1}, {Inode: 2}}
	got, err := c.AppendSockets(prefix, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Inode != 1 || got[1].Inode != 2 || got[2].Inode != ino {
		t.Errorf("AppendSockets(prefix, %v) inodes = %v; want [1 2 %d]", q, inodes(got), ino)
	}
	// A warmed-up dump into a slice with room allocates nothing.
	buf := make([]model.Socket, 0, 16)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := c.AppendSockets(buf[:0], q); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendSockets allocated %v times per dump; want 0", allocs)
	}
}

func inodes(ss []model.Socket) []uint64 {
	var out []uint64
	for _, s := range ss {
		out = append(out, s.Inode)
	}
	return out
}

// TestDumpDrain breaks off a dump after its first datagram, as a decode
// error does, and checks that the Conn can dump again: the kernel refuses a
// second dump with EBUSY while the first is still running.
func TestDumpDrain(t *testing.T) {
	c := dial(t, -1)
	// Enough listeners to need several datagrams.
	for range 600 {
		listenTCP(t, "tcp4", "127.0.0.1:0", -1)
	}
	req := Request{Family: AFInet, Protocol: ipprotoTCP, States: 1 << model.Listen}
	c.seq++
	b, err := appendDumpRequest(c.req[:0], c.seq, &req)
	if err != nil {
		t.Fatal(err)
	}
	c.req = b
	if err := c.write(); err != nil {
		t.Fatal(err)
	}
	n, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if _, st, err := appendReply(nil, c.buf[:n], c.seq, model.TCP, model.NetNS{}, &m); err != nil || st.done {
		t.Fatalf("first datagram: status %+v, error %v; want a dump still running", st, err)
	}
	c.drain(c.seq)
	if ss := dumpAll(t, c, Query{Proto: model.TCP, Family: 4, States: 1 << model.Listen}); len(ss) < 600 {
		t.Errorf("dump after drain: %d listeners; want at least 600", len(ss))
	}
}

// TestDumpNetNS opens sockets in a new network namespace and checks that
// only a Conn dialled into that namespace sees them, and that ReadProcNet
// finds them through /proc/TID/net of a thread that lives there.
func TestDumpNetNS(t *testing.T) {
	testutil.NeedRoot(t)
	testutil.NeedKernel(t, "CONFIG_NET_NS")
	type nsResult struct {
		nsfd       int
		l          *net.TCPListener
		u          *net.UDPConn
		fromProc   []model.Socket // ReadProcNet(/proc, TID) while in the namespace
		procErr    error
		err        error
		restoreErr error
	}
	lq := Query{Proto: model.TCP, Family: 4, States: 1 << model.Listen}
	uq := Query{Proto: model.UDP, Family: 6}
	ready := make(chan nsResult)
	go func() {
		// The thread goes back to its namespace before it is unlocked. It
		// must: the thread may be the process's main thread, whose
		// namespace /proc/self/net (and so /proc/net) shows, and the Go
		// runtime never discards the main thread.
		runtime.LockOSThread()
		var r nsResult
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.err = err
			runtime.UnlockOSThread()
			ready <- r
			return
		}
		defer unix.Close(orig)
		if r.err = unix.Unshare(unix.CLONE_NEWNET); r.err != nil {
			runtime.UnlockOSThread()
			ready <- r
			return
		}
		func() {
			if r.nsfd, r.err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); r.err != nil {
				return
			}
			// The new namespace's loopback is down: bind the wildcard.
			if r.l, r.err = net.ListenTCP("tcp4", &net.TCPAddr{}); r.err != nil {
				return
			}
			if r.u, r.err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6zero}); r.err != nil {
				return
			}
			r.fromProc, r.procErr = ReadProcNet(nil, "/proc", unix.Gettid(), lq)
		}()
		if r.restoreErr = unix.Setns(orig, unix.CLONE_NEWNET); r.restoreErr == nil {
			runtime.UnlockOSThread()
		}
		ready <- r
	}()
	r := <-ready
	if r.restoreErr != nil {
		t.Fatalf("returning the thread to its network namespace: %v", r.restoreErr)
	}
	if r.err != nil {
		testutil.Missing(t, "creating a network namespace: %v", r.err)
	}
	defer func() {
		r.l.Close()
		r.u.Close()
		unix.Close(r.nsfd)
	}()
	var nsStat unix.Stat_t
	if err := unix.Fstat(r.nsfd, &nsStat); err != nil {
		t.Fatal(err)
	}
	lino, _ := fdInfo(t, r.l)
	uino, _ := fdInfo(t, r.u)

	inNS := dial(t, r.nsfd)
	host := dial(t, -1)
	ss := dumpAll(t, inNS, lq)
	if s := findInode(ss, lino); s == nil {
		t.Errorf("dump in the new namespace lacks its listener (inode %d)", lino)
	} else if s.NetNS.Inode != nsStat.Ino {
		t.Errorf("listener NetNS.Inode = %d; want %d", s.NetNS.Inode, nsStat.Ino)
	}
	if len(ss) != 1 {
		t.Errorf("dump in the new namespace: %d listeners; want only the test's", len(ss))
	}
	if findInode(dumpAll(t, inNS, uq), uino) == nil {
		t.Errorf("UDP dump in the new namespace lacks its socket (inode %d)", uino)
	}
	if findInode(dumpAll(t, host, lq), lino) != nil {
		t.Errorf("dump in the host namespace has the new namespace's listener")
	}
	if findInode(dumpAll(t, host, uq), uino) != nil {
		t.Errorf("UDP dump in the host namespace has the new namespace's socket")
	}

	// A namespace open as descriptor 0 is not mistaken for "the caller's
	// namespace", which is what netlink.Config.NetNS 0 means.
	t.Run("fd 0", func(t *testing.T) {
		saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := unix.Dup2(saved, 0); err != nil {
				t.Fatalf("restoring stdin: %v", err)
			}
			unix.Close(saved)
		}()
		if err := unix.Dup2(r.nsfd, 0); err != nil {
			t.Fatal(err)
		}
		c, err := Dial(0)
		if err != nil {
			t.Fatalf("Dial(0) = %v", err)
		}
		defer c.Close()
		if findInode(dumpAll(t, c, lq), lino) == nil {
			t.Errorf("Dial(0) with the namespace as fd 0: dump lacks the namespace's listener")
		}
	})

	if r.procErr != nil {
		t.Fatalf("ReadProcNet(/proc, TID in the namespace) = %v", r.procErr)
	}
	if s := findInode(r.fromProc, lino); s == nil {
		t.Errorf("ReadProcNet(/proc, TID in the namespace) lacks the namespace's listener")
	} else if s.NetNS.Inode != nsStat.Ino {
		t.Errorf("ReadProcNet(/proc, TID in the namespace) NetNS.Inode = %d; want %d", s.NetNS.Inode, nsStat.Ino)
	}
	ps, err := ReadProcNet(nil, "/proc", 0, lq)
	if err != nil {
		t.Fatal(err)
	}
	if findInode(ps, lino) != nil {
		t.Errorf("ReadProcNet(/proc, 0) has the new namespace's listener")
	}
}

// TestProcNetAgrees checks that /proc/net and the dump report the same
// values for the test's sockets, on every field both know.
func TestProcNetAgrees(t *testing.T) {
	c := dial(t, -1)
	socks := openTestSockets(t)
	for _, s := range socks {
		t.Run(s.name, func(t *testing.T) {
			port := s.want.Local.Port()
			q := s.query()
			q.Ports = []PortRange{{port, port}}
			fromProc, err := ReadProcNet(nil, "/proc", 0, q)
			if err != nil {
				t.Fatal(err)
			}
			fromDiag := dumpAll(t, c, q)
			p, d := findInode(fromProc, s.want.Inode), findInode(fromDiag, s.want.Inode)
			if p == nil || d == nil {
				t.Fatalf("socket in /proc/net: %v, in the dump: %v; want both", p != nil, d != nil)
			}
			want := *d
			want.V6Only = model.Unknown // /proc/net does not say
			if want.Proto == model.TCP && want.State == model.Listen {
				want.SendQ = 0 // /proc/net shows no backlog limit
			}
			if diff := cmp.Diff(want, *p, cmpAddrs); diff != "" {
				t.Errorf("ReadProcNet vs AppendSockets (-dump +procnet):\n%s", diff)
			}
			for _, other := range fromProc {
				if !q.matchPort(other.Local.Port()) {
					t.Errorf("ReadProcNet(%v) returned port %d", q, other.Local.Port())
				}
			}
		})
	}
}

func TestReadProcNetErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadProcNet(nil, dir, 0, Query{Proto: model.TCP, Family: 4}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadProcNet(empty root) = %v; want ErrNotExist", err)
	}
	if err := os.MkdirAll(dir+"/42/net", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/42/net/udp6", []byte(procUDP6+"garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadProcNet(nil, dir, 42, Query{Proto: model.UDP, Family: 6})
	if err == nil || !strings.Contains(err.Error(), "42/net/udp6") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("ReadProcNet(bad file) = %v; want an error naming the file and line 3", err)
	}
	if _, err := ReadProcNet(nil, dir, 42, Query{Proto: model.UDP, Family: 5}); err == nil {
		t.Errorf("ReadProcNet(family 5) = nil error; want one")
	}
}

func BenchmarkDumpListeners(b *testing.B) {
	c := dial(b, -1)
	for range 50 {
		listenTCP(b, "tcp4", "127.0.0.1:0", -1)
	}
	q := Query{Proto: model.TCP, Family: 4, States: 1 << model.Listen}
	benchDump(b, c, q)
}

// openConns opens n established loopback connections (2n sockets). They
// are reset on close (SO_LINGER 0), so they leave no TIME-WAIT sockets to
// inflate later benchmarks.
func openConns(b *testing.B, n int) {
	l := listenTCP(b, "tcp4", "127.0.0.1:0", -1)
	for range n {
		client, server := connect(b, l)
		if err := client.SetLinger(0); err != nil {
			b.Fatal(err)
		}
		if err := server.SetLinger(0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDumpAll(b *testing.B) {
	c := dial(b, -1)
	openConns(b, 2000)
	q := Query{Proto: model.TCP, Family: 4}
	benchDump(b, c, q)
}

func BenchmarkDumpOnePort(b *testing.B) {
	c := dial(b, -1)
	openConns(b, 2000)
	l := listenTCP(b, "tcp4", "127.0.0.1:0", -1)
	port := addrPort(b, l.Addr(), false).Port()
	q := Query{Proto: model.TCP, Family: 4, Ports: []PortRange{{port, port}}}
	benchDump(b, c, q)
}

func BenchmarkReadProcNetAll(b *testing.B) {
	openConns(b, 2000)
	q := Query{Proto: model.TCP, Family: 4}
	var ss []model.Socket
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if ss, err = ReadProcNet(ss[:0], "/proc", 0, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ss)), "sockets/op")
}

// benchDump times repeated dumps of q into one reused slice.
func benchDump(b *testing.B, c *Conn, q Query) {
	var ss []model.Socket
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if ss, err = c.AppendSockets(ss[:0], q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ss)), "sockets/op")
}
