package act

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
)

// rawSocket is a socket made with exactly the options a test asks for (Go's
// net package always sets SO_REUSEADDR on listeners).
type rawSocket struct {
	udp, reuseAddr, reusePort, listen bool
	v6only                            model.Tristate
}

// open binds s to addr:port and returns the port; the socket is closed
// when the test ends. Port 0 is a port testutil.FreePort picks, below the
// ephemeral range, tried again while taken: a port the kernel picks could
// be held on other addresses by another test's client connections, which
// the checks of those addresses would then rightly report.
func (s rawSocket) open(t *testing.T, addr string, port int) int {
	t.Helper()
	if port != 0 {
		p, err := s.bind(t, addr, port)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for range 50 {
		p, err := s.bind(t, addr, testutil.FreePort(t))
		if err == nil {
			return p
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			t.Fatal(err)
		}
	}
	t.Fatalf("no free port for %+v on %s after 50 tries", s, addr)
	return 0
}

// bind opens s on addr:port, failing the test on any error but bind's.
func (s rawSocket) bind(t *testing.T, addr string, port int) (int, error) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	domain, typ := unix.AF_INET, unix.SOCK_STREAM
	if a.Is6() {
		domain = unix.AF_INET6
	}
	if s.udp {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	setOpt := func(level, opt int, on bool) {
		if err := unix.SetsockoptInt(fd, level, opt, boolInt(on)); err != nil {
			t.Fatal(err)
		}
	}
	setOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, s.reuseAddr)
	setOpt(unix.SOL_SOCKET, unix.SO_REUSEPORT, s.reusePort)
	var sa unix.Sockaddr
	if a.Is6() {
		if s.v6only != model.Unknown {
			setOpt(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, s.v6only == model.Yes)
		}
		sa = &unix.SockaddrInet6{Port: port, Addr: a.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: port, Addr: a.As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return 0, fmt.Errorf("binding %s port %d: %w", addr, port, err)
	}
	if s.listen {
		if err := unix.Listen(fd, 8); err != nil {
			t.Fatal(err)
		}
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch sa := got.(type) {
	case *unix.SockaddrInet4:
		return sa.Port, nil
	case *unix.SockaddrInet6:
		return sa.Port, nil
	}
	t.Fatalf("getsockname: %T", got)
	return 0, nil
}

// realCheck runs Check against this host with a real engine.
func realCheck(t *testing.T, proto model.Proto, port int, addr string) *CheckReport {
	t.Helper()
	eng, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	req := CheckRequest{Proto: proto, Port: uint16(port), Collect: eng.Collect}
	if addr != "" {
		req.Addr = netip.MustParseAddr(addr)
	}
	r, err := Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check(%s/%d %s): %v", proto, port, addr, err)
	}
	return r
}

func addrResult(t *testing.T, r *CheckReport, addr string) AddrResult {
	t.Helper()
	for _, a := range r.Addrs {
		if a.Addr == netip.MustParseAddr(addr) {
			return a
		}
	}
	t.Fatalf("no result for %s in %+v", addr, r.Addrs)
	return AddrResult{}
}

// wantHeldBySelf checks that the only holder in the way is this test.
func wantHeldBySelf(t *testing.T, r *CheckReport) *model.Socket {
	t.Helper()
	hs := r.Holders()
	if len(hs) != 1 || len(hs[0].Socket.Holders) != 1 || hs[0].Socket.Holders[0].PID != os.Getpid() {
		t.Fatalf("holders in the way = %+v; want one socket held by this test (pid %d)", hs, os.Getpid())
	}
	return hs[0].Socket
}

func noteWith(r *CheckReport, sub string) bool {
	return slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, sub) })
}

// freeTCPPort binds port (0: the kernel picks one from the ephemeral
// range) on every IPv4 address, closes the socket and returns the port,
// or 0 when it is taken.
func freeTCPPort(t *testing.T, port int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if unix.Bind(fd, &unix.SockaddrInet4{Port: port}) != nil {
		return 0
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

func TestCheckFreePort(t *testing.T) {
	facts := readLinuxFacts("/proc", os.ReadFile)
	reserved := func(p int) bool {
		return slices.ContainsFunc(facts.ReservedPorts, func(s PortSpan) bool { return s.Contains(p) })
	}
	outside := 0
	for p := facts.LocalPortRange.First - 1; p >= 10000 && outside == 0; p-- {
		outside = freeTCPPort(t, p)
	}
	for _, tt := range []struct {
		name string
		port int
	}{
		{"ephemeral", freeTCPPort(t, 0)}, // the kernel picks from ip_local_port_range
		{"outside the ephemeral range", outside},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.port == 0 {
				t.Skipf("no free port below the ephemeral range %v", facts.LocalPortRange)
			}
			r := realCheck(t, model.TCP, tt.port, "")
			if !r.Bindable {
				t.Fatalf("free port %d: not bindable: %+v", tt.port, r.Addrs)
			}
			for _, a := range r.Addrs {
				if !a.Bindable && a.Reason != ReasonNoFamily {
					t.Errorf("%s: %s; want bindable", a.Addr, a.Text)
				}
			}
			wantWarn := facts.LocalPortRange.Contains(tt.port) && !reserved(tt.port)
			gotWarn := slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "ephemeral port range") })
			if gotWarn != wantWarn {
				t.Errorf("port %d, range %v: ephemeral warning %v; want %v (warnings %q)", tt.port, facts.LocalPortRange, gotWarn, wantWarn, r.Warnings)
			}
			if tt.name == "ephemeral" && !wantWarn {
				t.Errorf("the kernel picked port %d outside ip_local_port_range %v", tt.port, facts.LocalPortRange)
			}
		})
	}
}

func TestCheckInUseByThisTest(t *testing.T) {
	port := rawSocket{listen: true}.open(t, "127.0.0.1", 0)
	r := realCheck(t, model.TCP, port, "")
	if r.Bindable {
		t.Fatalf("port %d held by a listener on 127.0.0.1: bindable; want not", port)
	}
	v4 := addrResult(t, r, "0.0.0.0")
	if v4.Reason != ReasonInUse || !strings.Contains(v4.Text, "listens on 127.0.0.1:") || v4.Error != "bind: EADDRINUSE" {
		t.Errorf("0.0.0.0: %+v; want in use by the loopback listener, bind: EADDRINUSE", v4)
	}
	if v6 := addrResult(t, r, "::"); !v6.Bindable {
		t.Errorf("[::] (IPV6_V6ONLY): %+v; want bindable next to an IPv4 listener", v6)
	}
	wantHeldBySelf(t, r)
	for _, n := range []string{"SO_REUSEADDR does not help", "SO_REUSEPORT would not help either", "only 127.0.0.1 is taken"} {
		if !noteWith(r, n) {
			t.Errorf("notes %q; want %q", r.Notes, n)
		}
	}
	// Another loopback address is free: the kernel agrees with the note.
	if r := realCheck(t, model.TCP, port, "127.0.0.2"); !r.Bindable {
		t.Errorf("127.0.0.2:%d: %+v; want bindable", port, r.Addrs)
	}
}

func TestCheckDualStack(t *testing.T) {
	t.Run("a dual-stack [::] listener holds 0.0.0.0", func(t *testing.T) {
		port := rawSocket{listen: true, reuseAddr: true, v6only: model.No}.open(t, "::", 0)
		r := realCheck(t, model.TCP, port, "0.0.0.0")
		a := addrResult(t, r, "0.0.0.0")
		if r.Bindable || a.Reason != ReasonInUse {
			t.Fatalf("0.0.0.0:%d next to a dual-stack [::] listener: %+v; want in use", port, a)
		}
		s := wantHeldBySelf(t, r)
		if s.Local.Addr() != netip.IPv6Unspecified() || s.V6Only != model.No {
			t.Errorf("socket in the way = %v v6only %v; want [::] with IPV6_V6ONLY off", s.Local, s.V6Only)
		}
		if !strings.Contains(r.Conflicts[0].Why, "dual-stack") || !noteWith(r, "takes IPv4 too because IPV6_V6ONLY is off") {
			t.Errorf("why %q, notes %q; want the dual-stack explained", r.Conflicts[0].Why, r.Notes)
		}
	})
	t.Run("a v6-only [::] listener leaves 0.0.0.0 free", func(t *testing.T) {
		port := rawSocket{listen: true, reuseAddr: true, v6only: model.Yes}.open(t, "::", 0)
		if r := realCheck(t, model.TCP, port, "0.0.0.0"); !r.Bindable {
			t.Errorf("0.0.0.0:%d next to a v6-only [::] listener: %+v; want bindable", port, r.Addrs)
		}
		if r := realCheck(t, model.TCP, port, "::"); r.Bindable || r.Addrs[0].Reason != ReasonInUse {
			t.Errorf("[::]:%d next to a v6-only [::] listener: %+v; want in use", port, r.Addrs)
		}
	})
	t.Run("an IPv4 listener takes the IPv4 side of a dual-stack [::]", func(t *testing.T) {
		port := rawSocket{listen: true, reuseAddr: true}.open(t, "0.0.0.0", 0)
		r := realCheck(t, model.TCP, port, "::")
		if r.Bindable || r.Addrs[0].Reason != ReasonInUse {
			t.Fatalf("[::]:%d (system default, dual-stack) next to 0.0.0.0: %+v; want in use", port, r.Addrs)
		}
		wantHeldBySelf(t, r)
		if !noteWith(r, "binds with IPV6_V6ONLY set") {
			t.Errorf("notes %q; want the IPV6_V6ONLY trial to say it would bind", r.Notes)
		}
	})
}

func TestCheckReusePort(t *testing.T) {
	port := rawSocket{listen: true, reuseAddr: true, reusePort: true}.open(t, "127.0.0.1", 0)
	r := realCheck(t, model.TCP, port, "127.0.0.1")
	if r.Bindable || r.Addrs[0].Reason != ReasonInUse {
		t.Fatalf("127.0.0.1:%d held with SO_REUSEPORT: %+v; want in use (a server without SO_REUSEPORT cannot bind)", port, r.Addrs)
	}
	if !noteWith(r, "SO_REUSEPORT would let a second server bind") {
		t.Errorf("notes %q; want SO_REUSEPORT named as the way to share it", r.Notes)
	}
}

// TestCheckBindVersusListen shows why a bind decides: a socket bound but
// not listening blocks a bind unless both set SO_REUSEADDR, and then the
// trial's listen works too.
func TestCheckBindVersusListen(t *testing.T) {
	t.Run("bound without SO_REUSEADDR", func(t *testing.T) {
		port := rawSocket{}.open(t, "127.0.0.1", 0)
		r := realCheck(t, model.TCP, port, "127.0.0.1")
		if r.Bindable || r.Addrs[0].Reason != ReasonInUse || r.Addrs[0].Error != "bind: EADDRINUSE" {
			t.Fatalf("next to a bound socket: %+v; want in use at bind", r.Addrs)
		}
		s := wantHeldBySelf(t, r)
		if !strings.Contains(r.Addrs[0].Text, "is bound to 127.0.0.1:") {
			t.Errorf("text = %q; want the bound socket (listed as %v) named as bound", r.Addrs[0].Text, s.State)
		}
	})
	t.Run("bound with SO_REUSEADDR", func(t *testing.T) {
		port := rawSocket{reuseAddr: true}.open(t, "127.0.0.1", 0)
		r := realCheck(t, model.TCP, port, "127.0.0.1")
		if !r.Bindable {
			t.Fatalf("next to a socket bound with SO_REUSEADDR: %+v; want bindable (bind and listen)", r.Addrs)
		}
		if !noteWith(r, "binds only with SO_REUSEADDR") {
			t.Errorf("notes %q; want it said that only SO_REUSEADDR binds", r.Notes)
		}
	})
}

// timeWait leaves a server-side TIME-WAIT socket on 127.0.0.1:port of a
// listener opened with or without SO_REUSEADDR, then closes the listener.
func timeWait(t *testing.T, reuse bool) int {
	t.Helper()
	a := netip.MustParseAddr("127.0.0.1")
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, boolInt(reuse)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: a.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port := sa.(*unix.SockaddrInet4).Port
	c, err := net.Dial("tcp4", netip.AddrPortFrom(a, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	nfd, _, err := unix.Accept(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(nfd) // the server closes first: its side ends in TIME-WAIT
	c.Read(make([]byte, 1))
	c.Close()
	eng, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tg := target.Target{Proto: model.TCP, Lo: uint16(port), Hi: uint16(port)}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		snap, err := eng.Collect(context.Background(), engine.Query{TCP: true, AllStates: true, SocketsOnly: true, Targets: []target.Target{tg}})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(snap.Sockets, func(s model.Socket) bool { return s.State == model.TimeWait && s.Local.Port() == uint16(port) }) {
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TIME-WAIT socket on port %d: %+v", port, snap.Sockets)
		}
	}
}

func TestCheckTimeWait(t *testing.T) {
	t.Run("leftovers of a server that set SO_REUSEADDR", func(t *testing.T) {
		port := timeWait(t, true)
		r := realCheck(t, model.TCP, port, "127.0.0.1")
		if !r.Bindable {
			t.Fatalf("TIME-WAIT leftovers of a SO_REUSEADDR server: %+v; want bindable with SO_REUSEADDR", r.Addrs)
		}
		if !noteWith(r, "binds only with SO_REUSEADDR (without it: EADDRINUSE) because of 1 TIME-WAIT leftover") {
			t.Errorf("notes %q; want the leftovers that block a server without SO_REUSEADDR", r.Notes)
		}
	})
	t.Run("leftovers of a server without SO_REUSEADDR", func(t *testing.T) {
		port := timeWait(t, false)
		r := realCheck(t, model.TCP, port, "127.0.0.1")
		if r.Bindable || r.Addrs[0].Reason != ReasonInUse || !strings.Contains(r.Addrs[0].Text, "TIME-WAIT leftover") {
			t.Fatalf("TIME-WAIT leftovers without SO_REUSEADDR: %+v; want in use by them", r.Addrs)
		}
		if len(r.Holders()) != 0 || len(r.Conflicts) != 1 || r.Conflicts[0].Socket.State != model.TimeWait {
			t.Errorf("conflicts = %+v; want the one TIME-WAIT socket and no holder", r.Conflicts)
		}
		if !noteWith(r, "keeps the option of the socket it came from") {
			t.Errorf("notes %q; want it said why SO_REUSEADDR does not help", r.Notes)
		}
	})
}

func TestCheckUDPInUse(t *testing.T) {
	port := rawSocket{udp: true}.open(t, "127.0.0.1", 0)
	r := realCheck(t, model.UDP, port, "")
	a := addrResult(t, r, "0.0.0.0")
	if r.Bindable || a.Reason != ReasonInUse || !strings.Contains(a.Text, "is bound to 127.0.0.1:") {
		t.Fatalf("udp 0.0.0.0:%d next to a bound UDP socket: %+v; want in use", port, a)
	}
	wantHeldBySelf(t, r)
}

func TestCheckNotLocal(t *testing.T) {
	for _, addr := range []string{"192.0.2.7", "2001:db8::7"} {
		t.Run(addr, func(t *testing.T) {
			r := realCheck(t, model.TCP, 8080, addr)
			if a := r.Addrs[0]; r.Bindable || (a.Reason != ReasonNotLocal && a.Reason != ReasonNoFamily) {
				t.Errorf("%s: %+v; want not an address of this host", addr, a)
			}
		})
	}
}
