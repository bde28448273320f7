package systemd

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whobinds/whobinds/internal/model"
)

var cmpNet = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

// fixtureDirs is the search path of the fixture trees.
var fixtureDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

func TestLoadSocketUnits(t *testing.T) {
	root := filepath.Join("testdata", "host")
	f := func(p string) string { return filepath.Join(root, p) }
	wildcard := netip.Addr{}
	a := netip.MustParseAddr
	listen := func(proto model.Proto, addr netip.Addr, port uint16, v6 string, directive, source string) Listen {
		return Listen{Proto: proto, Addr: addr, Port: port, BindIPv6Only: v6, Directive: directive, Source: f(source)}
	}
	want := []SocketUnit{
		{
			Name: "cockpit.socket", Path: f("/lib/systemd/system/cockpit.socket"),
			DropIns: []string{f("/etc/systemd/system/cockpit.socket.d/listen.conf")},
			Listens: []Listen{listen(model.TCP, wildcard, 443, "default", "ListenStream=443", "/etc/systemd/system/cockpit.socket.d/listen.conf")},
			Service: "cockpit.service", FreeBind: true,
			Evidence: f("/lib/systemd/system/cockpit.socket") + " + " + f("/etc/systemd/system/cockpit.socket.d/listen.conf"),
		},
		{
			Name: "cups.socket", Path: f("/lib/systemd/system/cups.socket"),
			DropIns: []string{f("/etc/systemd/system/cups.socket.d/override.conf")},
			Listens: []Listen{
				listen(model.TCP, a("0.0.0.0"), 631, "ipv6-only", "ListenStream=0.0.0.0:631", "/etc/systemd/system/cups.socket.d/override.conf"),
				listen(model.TCP, a("::1"), 631, "ipv6-only", "ListenStream=[::1]:631", "/etc/systemd/system/cups.socket.d/override.conf"),
			},
			Service:  "cups.service",
			Evidence: f("/lib/systemd/system/cups.socket") + " + " + f("/etc/systemd/system/cups.socket.d/override.conf"),
		},
		{
			Name: "docker.socket", Path: f("/lib/systemd/system/docker.socket"),
			Service: "docker.service", Evidence: f("/lib/systemd/system/docker.socket"),
		},
		{
			Name: "finger.socket", Path: f("/lib/systemd/system/finger.socket"),
			Listens: []Listen{listen(model.TCP, wildcard, 79, "default", "ListenStream=79", "/lib/systemd/system/finger.socket")},
			Accept:  true, Service: "finger@.service", Evidence: f("/lib/systemd/system/finger.socket"),
		},
		{
			Name: "metrics.socket", Path: f("/usr/local/lib/systemd/system/metrics.socket"),
			Listens: []Listen{
				listen(model.TCP, a("127.0.0.1"), 9100, "default", "ListenStream=127.0.0.1:9100", "/usr/local/lib/systemd/system/metrics.socket"),
				listen(model.TCP, a("::1"), 9100, "default", "ListenStream=[::1]:9100%%lo", "/usr/local/lib/systemd/system/metrics.socket"),
				listen(model.UDP, a("0.0.0.0"), 8125, "default", "ListenDatagram=0.0.0.0:8125", "/usr/local/lib/systemd/system/metrics.socket"),
			},
			Service: "metrics-exporter.service", BindToDevice: "lo",
			Evidence: f("/usr/local/lib/systemd/system/metrics.socket"),
		},
		{
			Name: "myapp.socket", Path: f("/etc/systemd/system/myapp.socket"),
			Listens: []Listen{listen(model.TCP, a("::"), 8443, "both", "ListenStream=[::]:8443", "/etc/systemd/system/myapp.socket")},
			Service: "myapp-server.service", Evidence: f("/etc/systemd/system/myapp.socket"),
		},
		{
			Name: "odd.socket", Path: f("/run/systemd/system/odd.socket"),
			Listens: []Listen{listen(model.UDP, a("2001:db8::53"), 5353, "default", "ListenDatagram=[2001:db8::53]:5353", "/run/systemd/system/odd.socket")},
			Service: "odd.service", Evidence: f("/run/systemd/system/odd.socket"),
		},
		{
			Name: "rpcbind.socket", Path: f("/lib/systemd/system/rpcbind.socket"),
			Listens: []Listen{
				listen(model.TCP, a("0.0.0.0"), 111, "ipv6-only", "ListenStream=0.0.0.0:111", "/lib/systemd/system/rpcbind.socket"),
				listen(model.UDP, a("0.0.0.0"), 111, "ipv6-only", "ListenDatagram=0.0.0.0:111", "/lib/systemd/system/rpcbind.socket"),
				listen(model.TCP, a("::"), 111, "ipv6-only", "ListenStream=[::]:111", "/lib/systemd/system/rpcbind.socket"),
				listen(model.UDP, a("::"), 111, "ipv6-only", "ListenDatagram=[::]:111", "/lib/systemd/system/rpcbind.socket"),
			},
			Service: "rpcbind.service", Evidence: f("/lib/systemd/system/rpcbind.socket"),
		},
		{
			Name: "ssh.socket", Path: f("/lib/systemd/system/ssh.socket"),
			Listens: []Listen{listen(model.TCP, wildcard, 22, "default", "ListenStream=22", "/lib/systemd/system/ssh.socket")},
			Accept:  true, Service: "ssh@.service", Evidence: f("/lib/systemd/system/ssh.socket"),
		},
		{
			Name: "systemd-journald-dev-log.socket", Path: f("/lib/systemd/system/systemd-journald-dev-log.socket"),
			Service: "systemd-journald.service", Evidence: f("/lib/systemd/system/systemd-journald-dev-log.socket"),
		},
		{
			Name: "webhook.socket", Path: f("/etc/systemd/system/webhook.socket"),
			Listens: []Listen{listen(model.TCP, a("127.0.0.1"), 9001, "default", "ListenStream=127.0.0.1:9001", "/etc/systemd/system/webhook.socket")},
			Service: "webhook.service", Evidence: f("/etc/systemd/system/webhook.socket"),
		},
	}
	got, err := LoadSocketUnits(root, fixtureDirs)
	if err != nil {
		t.Fatalf("LoadSocketUnits(%s) error: %v", root, err)
	}
	if diff := cmp.Diff(want, got, cmpNet, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("LoadSocketUnits(%s) mismatch (-want +got):\n%s", root, diff)
	}
}

func TestLoadSocketUnitsDropIns(t *testing.T) {
	root := filepath.Join("testdata", "dropins")
	f := func(p string) string { return filepath.Join(root, p) }
	got, err := LoadSocketUnits(root, fixtureDirs)
	if err != nil {
		t.Fatalf("LoadSocketUnits(%s) error: %v", root, err)
	}
	type summary struct {
		Name     string
		DropIns  []string
		Ports    []uint16
		V6Only   string
		FreeBind bool
	}
	var sum []summary
	for _, u := range got {
		s := summary{Name: u.Name, DropIns: u.DropIns, FreeBind: u.FreeBind}
		for _, l := range u.Listens {
			s.Ports = append(s.Ports, l.Port)
			s.V6Only = l.BindIPv6Only
		}
		sum = append(sum, s)
	}
	// The same order and files as systemd 252 lists them (see
	// TestLoadSocketUnitsAgainstSystemd).
	want := []summary{
		{
			Name: "app-web-admin.socket",
			DropIns: []string{
				f("/etc/systemd/system/app-.socket.d/20-freebind.conf"),
				f("/lib/systemd/system/socket.d/30-v6only.conf"),
				f("/etc/systemd/system/socket.d/40-extra.conf"),
				f("/etc/systemd/system/app-web-.socket.d/50-admin.conf"),
			},
			Ports: []uint16{6000, 6001}, V6Only: "ipv6-only", FreeBind: true,
		},
		{
			Name: "app-web.socket",
			DropIns: []string{
				f("/etc/systemd/system/app-web.socket.d/10-port.conf"),
				f("/etc/systemd/system/app-.socket.d/20-freebind.conf"),
				f("/lib/systemd/system/socket.d/30-v6only.conf"),
				f("/etc/systemd/system/socket.d/40-extra.conf"),
			},
			Ports: []uint16{8082}, V6Only: "ipv6-only", FreeBind: true,
		},
		{
			Name: "other.socket",
			DropIns: []string{
				f("/lib/systemd/system/socket.d/30-v6only.conf"),
				f("/etc/systemd/system/socket.d/40-extra.conf"),
			},
			Ports: []uint16{5353}, V6Only: "ipv6-only",
		},
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("LoadSocketUnits(%s) mismatch (-want +got):\n%s", root, diff)
	}
}

func TestLoadSocketUnitsUserDirs(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/usr/lib/systemd/user/devserver.socket", "[Socket]\nListenStream=8000\n")
	write("/home/alice/.config/systemd/user/devserver.socket", "[Socket]\nListenStream=127.0.0.1:8001\n")
	write("/usr/lib/systemd/user/pipewire.socket", "[Socket]\nPriority=6\nListenStream=%t/pipewire-0\n")
	got, err := LoadSocketUnits(root, UserUnitDirs("/home/alice"))
	if err != nil {
		t.Fatalf("LoadSocketUnits(user dirs) error: %v", err)
	}
	if len(got) != 2 || got[0].Name != "devserver.socket" || got[1].Name != "pipewire.socket" {
		t.Fatalf("LoadSocketUnits(user dirs) = %+v; want devserver.socket and pipewire.socket", got)
	}
	if l := got[0].Listens; len(l) != 1 || l[0].Port != 8001 || got[0].Path != filepath.Join(root, "/home/alice/.config/systemd/user/devserver.socket") {
		t.Errorf("devserver.socket = %+v; want the one in ~/.config, on 127.0.0.1:8001", got[0])
	}
	if l := got[1].Listens; len(l) != 0 {
		t.Errorf("pipewire.socket listens = %+v; want none (a unix path with a specifier)", l)
	}
}

func TestLoadSocketUnitsUnreadable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.socket"), []byte("[Socket]\nListenStream=1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A dangling link: the unit cannot be read, the others still load.
	if err := os.Symlink("/nonexistent/bad.socket", filepath.Join(dir, "bad.socket")); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSocketUnits(root, []string{"/etc/systemd/system"})
	if err == nil || !strings.Contains(err.Error(), "bad.socket") {
		t.Errorf("LoadSocketUnits error = %v; want one naming bad.socket", err)
	}
	if len(got) != 1 || got[0].Name != "good.socket" {
		t.Errorf("LoadSocketUnits = %+v; want good.socket", got)
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		addr string // "" for the zero Addr
		port uint16
		ok   bool
	}{
		{"22", "", 22, true},
		{"65535", "", 65535, true},
		{"0.0.0.0:80", "0.0.0.0", 80, true},
		{"127.0.0.1:8080", "127.0.0.1", 8080, true},
		{"[::]:80", "::", 80, true},
		{"[::1]:631", "::1", 631, true},
		{"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80, true},
		{"[fe80::1]:80%%eth0", "fe80::1", 80, true},
		{"10.0.0.1:53%%eth0", "10.0.0.1", 53, true},
		{"[fe80::1]:80%eth0", "", 0, false}, // %e is an unknown specifier
		{"[fe80::1%%eth0]:80", "", 0, false},
		{"/run/foo.sock", "", 0, false},
		{"@abstract", "", 0, false},
		{"vsock:2:1234", "", 0, false},
		{"vsock::22", "", 0, false},
		{"0", "", 0, false},
		{"65536", "", 0, false},
		{"+80", "", 0, false},
		{"::1:80", "", 0, false},
		{"::1", "", 0, false},
		{"[127.0.0.1]:81", "", 0, false},
		{"localhost:80", "", 0, false},
		{"127.0.0.1:0", "", 0, false},
		{"127.0.0.1", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, port, ok := parseListen(tt.in)
			var want netip.Addr
			if tt.addr != "" {
				want = netip.MustParseAddr(tt.addr)
			}
			if addr != want || port != tt.port || ok != tt.ok {
				t.Errorf("parseListen(%q) = %v, %d, %v; want %v, %d, %v", tt.in, addr, port, ok, want, tt.port, tt.ok)
			}
		})
	}
}

func TestParseSyntax(t *testing.T) {
	const unit = `# comment
; also a comment
[Service]
ListenStream=1
[Socket]
ListenStream = 10 
ListenDatagram=\
# a comment inside a continued line is dropped
   20
ListenStream=30
ListenStream=
ListenStream=40
ListenFIFO=/run/fifo
Accept=yes
Service=ignored.service
  [Install]
ListenStream=50
`
	st := &parseState{}
	st.parse([]byte(unit), "x.socket")
	u := SocketUnit{Name: "x.socket", Path: "x.socket"}
	st.finish(&u)
	var ports []uint16
	for _, l := range u.Listens {
		ports = append(ports, l.Port)
	}
	if diff := cmp.Diff([]uint16{40}, ports); diff != "" {
		t.Errorf("ports mismatch (-want +got):\n%s", diff)
	}
	if !u.Accept || u.Service != "x@.service" {
		t.Errorf("Accept, Service = %v, %q; want true, x@.service (Service= does not apply with Accept=yes)", u.Accept, u.Service)
	}

	// A backslash continues the line with a space in its place, so a value
	// split in the middle is broken, as it is for systemd.
	st = &parseState{}
	st.parse([]byte("[Socket]\nListenDatagram=\\\n  [::1]:20\nListenStream=[::1]:\\\n30\n"), "y.socket")
	if len(st.listens) != 1 || st.listens[0].Proto != model.UDP || st.listens[0].Port != 20 {
		t.Errorf("continued lines = %+v; want only udp [::1]:20", st.listens)
	}
}

func TestMatchSocketUnit(t *testing.T) {
	units, err := LoadSocketUnits(filepath.Join("testdata", "host"), fixtureDirs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		proto     model.Proto
		local     string
		wantUnit  string // "" for no match
		directive string
	}{
		{model.TCP, "[::]:22", "ssh.socket", "ListenStream=22"},
		{model.TCP, "0.0.0.0:22", "ssh.socket", "ListenStream=22"}, // a host without IPv6
		{model.TCP, "127.0.0.1:22", "", ""},
		{model.UDP, "[::]:22", "", ""},
		{model.TCP, "[::]:443", "cockpit.socket", "ListenStream=443"},
		{model.TCP, "[::]:9090", "", ""}, // reset by the drop-in
		{model.TCP, "0.0.0.0:631", "cups.socket", "ListenStream=0.0.0.0:631"},
		{model.TCP, "[::1]:631", "cups.socket", "ListenStream=[::1]:631"},
		{model.TCP, "[::]:631", "", ""},
		{model.TCP, "[::ffff:127.0.0.1]:9100", "metrics.socket", "ListenStream=127.0.0.1:9100"},
		{model.UDP, "0.0.0.0:8125", "metrics.socket", "ListenDatagram=0.0.0.0:8125"},
		{model.UDP, "[::]:111", "rpcbind.socket", "ListenDatagram=[::]:111"},
		{model.TCP, "0.0.0.0:111", "rpcbind.socket", "ListenStream=0.0.0.0:111"},
		{model.TCP, "[::]:8443", "myapp.socket", "ListenStream=[::]:8443"},
		{model.TCP, "127.0.0.1:9001", "webhook.socket", "ListenStream=127.0.0.1:9001"},
		{model.TCP, "[::]:9000", "", ""}, // the packaged unit is overridden
		{model.TCP, "[::]:23", "", ""},   // masked
		{model.TCP, "[::]:70", "", ""},   // masked by an empty file
		{model.TCP, "[::]:79", "finger.socket", "ListenStream=79"},
	}
	for _, tt := range tests {
		t.Run(tt.proto.String()+" "+tt.local, func(t *testing.T) {
			got, ok := MatchSocketUnit(units, tt.proto, netip.MustParseAddrPort(tt.local))
			if ok != (tt.wantUnit != "") || got.Name != tt.wantUnit {
				t.Fatalf("MatchSocketUnit(%v, %s) = %q, %v; want %q", tt.proto, tt.local, got.Name, ok, tt.wantUnit)
			}
			if ok && !strings.HasPrefix(got.Evidence, tt.directive+" in ") {
				t.Errorf("MatchSocketUnit(%v, %s).Evidence = %q; want it to start with %q", tt.proto, tt.local, got.Evidence, tt.directive+" in ")
			}
		})
	}
}

func TestMatchSocketUnitPrefersExactAddress(t *testing.T) {
	units := []SocketUnit{
		{Name: "wild.socket", Listens: []Listen{{Proto: model.TCP, Port: 80, Directive: "ListenStream=80", Source: "wild"}}},
		{Name: "exact.socket", Listens: []Listen{{Proto: model.TCP, Addr: netip.MustParseAddr("::"), Port: 80, Directive: "ListenStream=[::]:80", Source: "exact"}}},
	}
	got, ok := MatchSocketUnit(units, model.TCP, netip.MustParseAddrPort("[::]:80"))
	if !ok || got.Name != "exact.socket" {
		t.Errorf("MatchSocketUnit([::]:80) = %q, %v; want exact.socket", got.Name, ok)
	}
	if units[1].Evidence != "" {
		t.Errorf("MatchSocketUnit changed its argument: %+v", units[1])
	}
}

func FuzzParseUnit(f *testing.F) {
	for _, p := range []string{
		"testdata/host/run/systemd/system/odd.socket",
		"testdata/host/usr/local/lib/systemd/system/metrics.socket",
		"testdata/host/etc/systemd/system/cups.socket.d/override.conf",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[Socket]\nListenStream=\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st := &parseState{}
		st.parse(b, "fuzz.socket")
		u := SocketUnit{Name: "fuzz.socket"}
		st.finish(&u)
		for _, l := range u.Listens {
			if l.Port == 0 || (l.Proto != model.TCP && l.Proto != model.UDP) {
				t.Errorf("parse(%q) gave listen %+v", b, l)
			}
			if l.Addr.IsValid() && l.Addr.Zone() != "" {
				t.Errorf("parse(%q) gave a zoned address %+v", b, l)
			}
		}
		if u.Service == "" {
			t.Errorf("parse(%q) gave no service", b)
		}
	})
}
