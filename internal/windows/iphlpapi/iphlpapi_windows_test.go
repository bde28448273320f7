package iphlpapi

// These tests read the real tables: under Wine 8 (.ci/wine-go-test.sh) and
// on real Windows. They open their own sockets on loopback and look for
// them. Wine 8 attributes a socket to its process only after wine.Touch
// (wine.md 3), never for IPv6 TCP, and has no GetOwnerModuleFrom*Entry.

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

var listenerClasses = []Class{OwnerModuleListener, OwnerPIDListener, OwnerModuleAll, OwnerPIDAll}

// find returns the rows of table t in class c whose local end is local.
func find(t *testing.T, tb Table, c Class, local netip.AddrPort) []Row {
	t.Helper()
	rows, err := Get(tb, c)
	if err != nil {
		t.Fatalf("Get(%s, %s) = %v", tb, c, err)
	}
	var out []Row
	for _, r := range rows {
		if r.Table != tb {
			t.Fatalf("Get(%s, %s) returned a %s row", tb, c, r.Table)
		}
		if r.Local == local {
			out = append(out, r)
		}
	}
	return out
}

// findOne is find for exactly one row.
func findOne(t *testing.T, tb Table, c Class, local netip.AddrPort) Row {
	t.Helper()
	rows := find(t, tb, c, local)
	if len(rows) != 1 {
		t.Fatalf("Get(%s, %s): %d rows with local %v; want 1: %+v", tb, c, len(rows), local, rows)
	}
	return rows[0]
}

func listen(t *testing.T, network, addr string) *net.TCPListener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		if network == "tcp6" {
			testutil.Missing(t, "no IPv6 loopback: net.Listen(%s, %s): %v", network, addr, err)
		}
		t.Fatalf("net.Listen(%s, %s): %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	tl := l.(*net.TCPListener)
	if err := wine.Touch(tl); err != nil {
		t.Fatalf("wine.Touch(%v): %v", l.Addr(), err)
	}
	return tl
}

func pid() uint32 { return uint32(os.Getpid()) }

func TestTCP4Listener(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	local := l.Addr().(*net.TCPAddr).AddrPort()
	for _, c := range listenerClasses {
		t.Run(c.String(), func(t *testing.T) {
			r := findOne(t, TCP4, c, local)
			if r.PID != pid() || r.State != model.Listen || r.Remote != netip.MustParseAddrPort("0.0.0.0:0") {
				t.Errorf("row of our listener %v = %+v; want PID %d, LISTEN, remote 0.0.0.0:0", local, r, pid())
			}
			// Windows records the creation time; Wine 8 leaves it 0.
			if c.module() && !wine.Detected() && r.Created.IsZero() {
				t.Errorf("row of our listener %v: Created is zero; want the socket's creation time", local)
			}
		})
	}
}

func TestTCP4Established(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	lAddr := l.Addr().(*net.TCPAddr).AddrPort()
	client, err := net.Dial("tcp4", lAddr.String())
	if err != nil {
		t.Fatalf("net.Dial(%v): %v", lAddr, err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer server.Close()
	for _, c := range []net.Conn{client, server} {
		if err := wine.Touch(c.(*net.TCPConn)); err != nil {
			t.Fatalf("wine.Touch(%v): %v", c.LocalAddr(), err)
		}
	}
	cAddr := client.LocalAddr().(*net.TCPAddr).AddrPort()
	for _, c := range []Class{OwnerModuleAll, OwnerPIDAll} {
		t.Run(c.String(), func(t *testing.T) {
			r := findOne(t, TCP4, c, cAddr)
			if r.Remote != lAddr || r.State != model.Established || r.PID != pid() {
				t.Errorf("row of our client %v = %+v; want remote %v, ESTAB, PID %d", cAddr, r, lAddr, pid())
			}
			// The accepted end shares the listener's local address.
			var accepted []Row
			for _, r := range find(t, TCP4, c, lAddr) {
				if r.Remote == cAddr {
					accepted = append(accepted, r)
				}
			}
			if len(accepted) != 1 || accepted[0].State != model.Established {
				t.Fatalf("rows %v -> %v = %+v; want one ESTAB row", lAddr, cAddr, accepted)
			}
			// Wine 8 gives the accepted end PID 0 (wine.md 3).
			if !wine.Detected() && accepted[0].PID != pid() {
				t.Errorf("row of our accepted end %v = %+v; want PID %d", lAddr, accepted[0], pid())
			}
		})
	}
	// The listener classes leave connections out.
	for _, c := range []Class{OwnerModuleListener, OwnerPIDListener} {
		if rows := find(t, TCP4, c, cAddr); len(rows) != 0 {
			t.Errorf("Get(tcp4, %s) has our connection %v: %+v; want listeners only", c, cAddr, rows)
		}
	}
}

func TestTCP6Listener(t *testing.T) {
	l := listen(t, "tcp6", "[::1]:0")
	local := l.Addr().(*net.TCPAddr).AddrPort()
	for _, c := range listenerClasses {
		t.Run(c.String(), func(t *testing.T) {
			r := findOne(t, TCP6, c, local)
			if r.State != model.Listen || r.Remote != netip.MustParseAddrPort("[::]:0") {
				t.Errorf("row of our listener %v = %+v; want LISTEN, remote [::]:0", local, r)
			}
			// Wine 8 reports PID 0 for every IPv6 TCP socket, touched or
			// not (wine.md 3).
			if !wine.Detected() && r.PID != pid() {
				t.Errorf("row of our listener %v = %+v; want PID %d", local, r, pid())
			}
		})
	}
}

// udpSocket opens a UDP socket on loopback with winsock directly: Go's
// net.ListenPacket fails under Wine 8 (wine.md 3).
func udpSocket(t *testing.T, ipv6 bool) netip.AddrPort {
	t.Helper()
	af, sa := windows.AF_INET, windows.Sockaddr(&windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if ipv6 {
		af, sa = windows.AF_INET6, &windows.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}
	}
	s, err := windows.Socket(af, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		t.Fatalf("socket(%d, SOCK_DGRAM): %v", af, err)
	}
	t.Cleanup(func() { windows.Closesocket(s) })
	if err := windows.Bind(s, sa); err != nil {
		if ipv6 {
			testutil.Missing(t, "no IPv6 loopback: bind([::1]:0): %v", err)
		}
		t.Fatalf("bind(127.0.0.1:0): %v", err)
	}
	if err := wine.TouchHandle(s, ipv6); err != nil {
		t.Fatalf("wine.TouchHandle: %v", err)
	}
	got, err := windows.Getsockname(s)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	switch a := got.(type) {
	case *windows.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *windows.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	t.Fatalf("getsockname = %T", got)
	return netip.AddrPort{}
}

func TestUDP(t *testing.T) {
	for _, tb := range []Table{UDP4, UDP6} {
		t.Run(tb.String(), func(t *testing.T) {
			local := udpSocket(t, tb == UDP6)
			for _, c := range listenerClasses {
				t.Run(c.String(), func(t *testing.T) {
					r := findOne(t, tb, c, local)
					if r.PID != pid() || r.State != model.Close || r.Remote.IsValid() {
						t.Errorf("row of our UDP socket %v = %+v; want PID %d, UNCONN, no remote", local, r, pid())
					}
				})
			}
		})
	}
}

// TestOwnerModule asks for the module of our own sockets: the test
// executable on Windows, ErrNotAvailable under Wine 8, which does not
// export GetOwnerModuleFrom*Entry.
func TestOwnerModule(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l4 := listen(t, "tcp4", "127.0.0.1:0")
	rows := map[Table]netip.AddrPort{
		TCP4: l4.Addr().(*net.TCPAddr).AddrPort(),
		UDP4: udpSocket(t, false),
		UDP6: udpSocket(t, true),
	}
	if !wine.Detected() {
		// Wine 8 gives IPv6 TCP rows PID 0, which OwnerModule refuses
		// before it gets to the missing export.
		l6 := listen(t, "tcp6", "[::1]:0")
		rows[TCP6] = l6.Addr().(*net.TCPAddr).AddrPort()
	}
	for tb, local := range rows {
		t.Run(tb.String(), func(t *testing.T) {
			r := findOne(t, tb, OwnerModuleAll, local)
			name, path, err := OwnerModule(&r)
			if wine.Detected() {
				if !errors.Is(err, ErrNotAvailable) {
					t.Errorf("OwnerModule(%v) under Wine = %q, %q, %v; want an error wrapping ErrNotAvailable", local, name, path, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OwnerModule(%v) = %v", local, err)
			}
			if !strings.EqualFold(name, filepath.Base(exe)) || !strings.EqualFold(path, exe) {
				t.Errorf("OwnerModule(%v) = %q, %q; want %q, %q", local, name, path, filepath.Base(exe), exe)
			}
		})
	}
	// A row of an OwnerPID class carries no module information.
	pr := findOne(t, TCP4, OwnerPIDListener, rows[TCP4])
	if _, _, err := OwnerModule(&pr); err == nil || errors.Is(err, ErrNotAvailable) {
		t.Errorf("OwnerModule(owner-pid row) = %v; want an error saying the row has no module information", err)
	}
}

// TestGetRetries starts Get with a buffer too small for any row, so that
// it must ask for the size and call again.
func TestGetRetries(t *testing.T) {
	defer func(n uint32) { minTableSize = n }(minTableSize)
	minTableSize = 4
	l := listen(t, "tcp4", "127.0.0.1:0")
	local := l.Addr().(*net.TCPAddr).AddrPort()
	for _, c := range allClasses {
		t.Run(c.String(), func(t *testing.T) {
			sizeHints[TCP4][c].Store(0)
			r := findOne(t, TCP4, c, local)
			if r.PID != pid() {
				t.Errorf("row of our listener %v = %+v; want PID %d", local, r, pid())
			}
			if got := sizeHints[TCP4][c].Load(); got < uint32(layoutOf(TCP4, c).rowsAt+layoutOf(TCP4, c).size) {
				t.Errorf("size hint after Get(tcp4, %s) = %d; want room for at least one row", c, got)
			}
		})
	}
}

func TestGetEveryClass(t *testing.T) {
	for _, tb := range []Table{TCP4, TCP6, UDP4, UDP6} {
		for _, c := range allClasses {
			rows, err := Get(tb, c)
			if err != nil {
				t.Errorf("Get(%s, %s) = %v", tb, c, err)
			}
			for _, r := range rows {
				if r.Table != tb || (tb.tcp() && !r.Remote.IsValid()) || (!tb.tcp() && r.State != model.Close) {
					t.Errorf("Get(%s, %s) row %+v is not a %s row", tb, c, r, tb)
				}
			}
		}
	}
	if _, err := Get(9, OwnerPIDAll); err == nil {
		t.Errorf("Get(9, owner-pid-all) = nil error; want one")
	}
}
