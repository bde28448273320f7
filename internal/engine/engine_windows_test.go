package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/httpsys"
	"github.com/whobinds/whobinds/internal/windows/scm"
	"github.com/whobinds/whobinds/internal/windows/wine"
	"github.com/whobinds/whobinds/internal/windows/wintest"
)

func TestMain(m *testing.M) {
	wintest.ServeIfService()
	os.Exit(m.Run())
}

// collectPort collects the sockets on one port.
func collectPort(t *testing.T, proto model.Proto, port int) *model.Snapshot {
	t.Helper()
	e, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer e.Close()
	tg, err := target.Parse(fmt.Sprintf("%s/%d", proto, port))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.Collect(context.Background(), Query{Targets: []target.Target{tg}})
	if err != nil {
		t.Fatalf("Collect(%s/%d): %v", proto, port, err)
	}
	return snap
}

// only returns the one socket of snap, failing otherwise.
func only(t *testing.T, snap *model.Snapshot) *model.Socket {
	t.Helper()
	if len(snap.Sockets) != 1 {
		t.Fatalf("got %d sockets %+v; want 1 (warnings %q)", len(snap.Sockets), snap.Sockets, snap.Warnings)
	}
	return &snap.Sockets[0]
}

func checkSelf(t *testing.T, s *model.Socket) {
	t.Helper()
	if len(s.Holders) != 1 || s.Holders[0].PID != os.Getpid() {
		t.Fatalf("holders = %+v (hidden %q); want this test, PID %d", s.Holders, s.Hidden, os.Getpid())
	}
	p := s.Holders[0].Process
	exe, _ := os.Executable()
	if p == nil || !strings.EqualFold(p.Exe, exe) {
		t.Errorf("holder process = %+v; want Exe %q", p, exe)
	}
}

func TestOwnTCPListener(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := wine.Touch(l.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	snap := collectPort(t, model.TCP, port)
	s := only(t, snap)
	if s.State != model.Listen || s.Local != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)) {
		t.Errorf("socket = %v %v; want LISTEN 127.0.0.1:%d", s.State, s.Local, port)
	}
	checkSelf(t, s)
	if snap.Host.OS != "windows" {
		t.Errorf("Host.OS = %q; want windows", snap.Host.OS)
	}
}

func TestOwnUDPSocket(t *testing.T) {
	for _, fam := range []int{4, 6} {
		t.Run(fmt.Sprintf("udp%d", fam), func(t *testing.T) {
			af, sa := windows.AF_INET, windows.Sockaddr(&windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
			if fam == 6 {
				af, sa = windows.AF_INET6, &windows.SockaddrInet6{Addr: [16]byte{15: 1}}
			}
			h, err := windows.Socket(af, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
			if err != nil {
				t.Fatalf("socket: %v", err)
			}
			defer windows.Closesocket(h)
			if err := windows.Bind(h, sa); err != nil {
				t.Fatalf("bind: %v", err)
			}
			if err := wine.TouchHandle(h, fam == 6); err != nil {
				t.Fatal(err)
			}
			got, err := windows.Getsockname(h)
			if err != nil {
				t.Fatal(err)
			}
			port := 0
			switch a := got.(type) {
			case *windows.SockaddrInet4:
				port = a.Port
			case *windows.SockaddrInet6:
				port = a.Port
			}
			s := only(t, collectPort(t, model.UDP, port))
			checkSelf(t, s)
		})
	}
}

// TestService installs this test binary as a Windows service that
// listens on a port, and expects whobinds to name the service.
func TestService(t *testing.T) {
	port := testutil.FreePort(t)
	const name = "WhobindsEngineTest"
	pid := wintest.InstallService(t, name, fmt.Sprintf("127.0.0.1:%d", port))
	s := only(t, collectPort(t, model.TCP, port))
	if len(s.Holders) != 1 || s.Holders[0].PID != pid {
		t.Fatalf("holders = %+v (hidden %q); want the service's PID %d", s.Holders, s.Hidden, pid)
	}
	for _, a := range s.Attributions {
		if a.Kind == model.AttrService && a.Name == name && !a.Ambiguous && a.PID == pid {
			return
		}
	}
	t.Errorf("attributions = %+v; want windows-service %s for PID %d", s.Attributions, name, pid)
}

// TestHTTPSys registers a URL with http.sys. Windows shows the port as
// System's (PID 4) with the URL and this test as the registrant; Wine 8
// shows the port with no owner, which whobinds must say, not guess.
func TestHTTPSys(t *testing.T) {
	port := testutil.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/whobinds-engine/", port)
	wintest.RegisterURL(t, url)
	snap := collectPort(t, model.TCP, port)
	s := only(t, snap)
	if wine.Detected() {
		if len(s.Holders) != 0 || !strings.Contains(s.Hidden, "Wine") {
			t.Errorf("under Wine: holders %+v, hidden %q; want none and a note naming Wine", s.Holders, s.Hidden)
		}
		return
	}
	if len(s.Holders) != 1 || s.Holders[0].PID != 4 {
		t.Fatalf("holders = %+v; want System, PID 4", s.Holders)
	}
	if !windows.GetCurrentProcessToken().IsElevated() {
		testutil.Missing(t, "naming the process that registered an http.sys URL needs an elevated test")
	}
	for _, a := range s.Attributions {
		if a.Kind == model.AttrHTTPSys && strings.EqualFold(a.Name, url) && strings.Contains(a.Detail, fmt.Sprintf("PID %d", os.Getpid())) {
			return
		}
	}
	t.Errorf("attributions = %+v; want httpsys-url %s registered by PID %d", s.Attributions, url, os.Getpid())
}

// TestUnheldPortRanges: a port nobody holds says what is known about the
// excluded ranges — under Wine that they are unknown, never "none".
func TestUnheldPortRanges(t *testing.T) {
	port := testutil.FreePort(t)
	snap := collectPort(t, model.TCP, port)
	if len(snap.Sockets) != 0 {
		t.Fatalf("free port %d has sockets %+v", port, snap.Sockets)
	}
	if wine.Detected() && !strings.Contains(snap.Host.PortRangesUnknown, "netsh") {
		t.Errorf("under Wine PortRangesUnknown = %q; want it to say netsh printed nothing", snap.Host.PortRangesUnknown)
	}
	if !wine.Detected() && snap.Host.PortRangesUnknown != "" {
		t.Errorf("on Windows PortRangesUnknown = %q; want the ranges read", snap.Host.PortRangesUnknown)
	}
}

// TestSystemJoinsHTTPSysQueues joins recorded http.sys request queues to a
// System socket: the seeds' case of port 5985 held by PID 4 for WinRM.
// The sources are recorded; the join is the code under test.
func TestSystemJoinsHTTPSysQueues(t *testing.T) {
	state := &httpsys.State{Source: httpsys.SourceNetsh, Queues: []httpsys.Queue{
		{State: "active", Processes: []httpsys.Process{{PID: 3104, Image: `C:\Windows\System32\svchost.exe`, Service: "WinRM"}},
			URLs: []string{"HTTP://+:5985/WSMAN/", "HTTP://+:47001/WSMAN/"}},
		{Name: "DefaultAppPool", State: "active", Processes: []httpsys.Process{{PID: 5120, Image: `C:\Windows\System32\inetsrv\w3wp.exe`}},
			URLs: []string{"HTTP://*:80/"}},
	}}
	tests := []struct {
		port             uint16
		kind             model.AttrKind
		name, svc, about string
	}{
		{5985, model.AttrHTTPSys, "HTTP://+:5985/WSMAN/", "WinRM", "registered by WinRM in svchost.exe (PID 3104)"},
		{80, model.AttrHTTPSys, "HTTP://*:80/", "PID 5120", "w3wp.exe (PID 5120); request queue DefaultAppPool"},
		{445, model.AttrKernel, "System", "", "no URL registered with http.sys uses this port"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.port), func(t *testing.T) {
			e := &winEnricher{w: &windowsSource{}, details: map[int]*model.Process{}, configs: map[string]scm.Config{},
				svcRead: true, httpRead: true, http: state}
			r := row{sock: model.Socket{Proto: model.TCP, Local: netip.AddrPortFrom(netip.IPv4Unspecified(), tt.port), State: model.Listen,
				Holders: []model.Holder{{PID: 4}}}}
			e.attribute(context.Background(), &r)
			as := r.sock.Attributions
			if len(as) != 1 || as[0].Kind != tt.kind || as[0].Name != tt.name || as[0].Service != tt.svc || !strings.Contains(as[0].Detail, tt.about) {
				t.Errorf("attributions = %+v; want one %s %q for %q, detail containing %q", as, tt.kind, tt.name, tt.svc, tt.about)
			}
		})
	}
}

// TestSystemFallsBackToReservations: with no service state, URL
// reservations on the port are candidates, never certainties.
func TestSystemFallsBackToReservations(t *testing.T) {
	e := &winEnricher{w: &windowsSource{}, details: map[int]*model.Process{}, configs: map[string]scm.Config{},
		svcRead: true, httpRead: true, httpErr: httpsys.ErrNeedsAdmin, confRead: true,
		acls: []httpsys.URLACL{{Prefix: "http://+:80/Temporary_Listen_Addresses/", SDDL: "D:(A;;GX;;;WD)"}, {Prefix: "http://+:5985/wsman/", SDDL: "D:(A;;GX;;;S-1-5-80-569256582)"}}}
	r := row{sock: model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:80"), State: model.Listen, Holders: []model.Holder{{PID: 4}}}}
	e.attribute(context.Background(), &r)
	as := r.sock.Attributions
	if len(as) != 1 || as[0].Kind != model.AttrHTTPSys || !as[0].Ambiguous || as[0].Name != "http://+:80/Temporary_Listen_Addresses/" {
		t.Errorf("attributions = %+v; want the port-80 reservation, marked ambiguous", as)
	}
}
