package act

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/windows/httpsys"
	"github.com/whobinds/whobinds/internal/windows/portrange"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func TestOverlaps(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		bind   string
		v6a    model.Tristate
		sock   string
		v6b    model.Tristate
		wanted bool
	}{
		{"0.0.0.0", model.Unknown, "127.0.0.1", model.Unknown, true},
		{"127.0.0.1", model.Unknown, "0.0.0.0", model.Unknown, true},
		{"127.0.0.1", model.Unknown, "127.0.0.2", model.Unknown, false},
		{"127.0.0.1", model.Unknown, "127.0.0.1", model.Unknown, true},
		{"0.0.0.0", model.Unknown, "::", model.No, true},      // dual-stack holds IPv4
		{"0.0.0.0", model.Unknown, "::", model.Unknown, true}, // Linux default: dual-stack
		{"0.0.0.0", model.Unknown, "::", model.Yes, false},    // v6-only leaves IPv4 alone
		{"127.0.0.1", model.Unknown, "::", model.No, true},    // a dual wildcard covers every IPv4 address
		{"0.0.0.0", model.Unknown, "::1", model.Unknown, false},
		{"::", model.No, "0.0.0.0", model.Unknown, true},
		{"::", model.No, "127.0.0.1", model.Unknown, true},
		{"::", model.Yes, "0.0.0.0", model.Unknown, false},
		{"::", model.Yes, "::1", model.Unknown, true},
		{"::1", model.Unknown, "::", model.Yes, true},
		{"::1", model.Unknown, "0.0.0.0", model.Unknown, false},
		{"::ffff:127.0.0.1", model.Unknown, "127.0.0.1", model.Unknown, true},
		{"127.0.0.1", model.Unknown, "::ffff:127.0.0.1", model.Unknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.bind+"_vs_"+tt.sock, func(t *testing.T) {
			if got := Overlaps(a(tt.bind), tt.v6a, a(tt.sock), tt.v6b); got != tt.wanted {
				t.Errorf("Overlaps(%s, %v, %s, %v) = %v; want %v", tt.bind, tt.v6a, tt.sock, tt.v6b, got, tt.wanted)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortSpan
		wantErr bool
	}{
		{"32768\t60999\n", PortSpan{32768, 60999}, false},
		{"1024 65535", PortSpan{1024, 65535}, false},
		{"60999 32768", PortSpan{}, true},
		{"0 100", PortSpan{}, true},
		{"1 70000", PortSpan{}, true},
		{"32768", PortSpan{}, true},
		{"", PortSpan{}, true},
		{"a b", PortSpan{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortRange([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParsePortRange(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseReservedPorts(t *testing.T) {
	tests := []struct {
		in      string
		want    []PortSpan
		wantErr bool
	}{
		{"\n", nil, false},
		{"8080\n", []PortSpan{{8080, 8080}}, false},
		{"8080,9000-9010,50000\n", []PortSpan{{8080, 8080}, {9000, 9010}, {50000, 50000}}, false},
		{"9010-9000", nil, true},
		{"8080,", nil, true},
		{"70000", nil, true},
		{"-5", nil, true},
		{"x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReservedPorts([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseReservedPorts(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReservedPorts(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseCapEff(t *testing.T) {
	status := "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\n"
	got, err := ParseCapEff([]byte(status))
	if err != nil || got != 1<<capNetBindService {
		t.Errorf("ParseCapEff(...CapEff 400...) = %#x, %v; want %#x", got, err, 1<<capNetBindService)
	}
	if _, err := ParseCapEff([]byte("Name:\tcat\n")); err == nil {
		t.Error("ParseCapEff(no CapEff line) succeeded; want an error")
	}
	if _, err := ParseCapEff([]byte("CapEff:\tzz\n")); err == nil {
		t.Error("ParseCapEff(CapEff zz) succeeded; want an error")
	}
}

// FuzzParseLinuxFacts feeds one input to every parser of the Linux facts:
// none may panic, and what they accept must be well formed.
func FuzzParseLinuxFacts(f *testing.F) {
	for _, s := range []string{"32768\t60999\n", "8080,9000-9010", "", "CapEff:\t000001ffffffffff\n", "1-2,3", "65535 65535", "0-0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParsePortRange(b); err == nil && (r.First < 1 || r.Last > 65535 || r.First > r.Last) {
			t.Errorf("ParsePortRange(%q) = %v; want a valid range or an error", b, r)
		}
		spans, err := ParseReservedPorts(b)
		if err == nil {
			for _, s := range spans {
				if s.First < 0 || s.Last > 65535 || s.First > s.Last {
					t.Errorf("ParseReservedPorts(%q) has %v; want valid spans or an error", b, s)
				}
			}
		}
		ParseCapEff(b)
	})
}

// chkTree is a fixture tree in memory: readFile of a path under root.
// (A tree under t.TempDir cannot be removed under Wine 8, where the
// Windows build of these tests also runs.)
func chkTree(root string, files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		rel, ok := strings.CutPrefix(p, root+"/")
		if text, found := files[rel]; ok && found {
			return []byte(text), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func TestReadLinuxFacts(t *testing.T) {
	const root = "/fixture/proc"
	read := chkTree(root, map[string]string{
		"sys/net/ipv4/ip_unprivileged_port_start": "1024\n",
		"sys/net/ipv4/ip_local_port_range":        "32768\t60999\n",
		"sys/net/ipv4/ip_local_reserved_ports":    "40000,50000-50010\n",
		"self/status":                             "Name:\twhobinds\nCapEff:\t0000000000000000\n",
	})
	got := readLinuxFacts(root, read)
	want := BindFacts{
		OS: "linux", UnprivilegedPortStart: 1024, CapNetBindService: model.No,
		LocalPortRange: PortSpan{32768, 60999}, ReservedPorts: []PortSpan{{40000, 40000}, {50000, 50010}},
		ReservedPortsText: "40000,50000-50010",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readLinuxFacts(fixture) (-want +got):\n%s", diff)
	}

	// A tree without the sysctls (another kernel, a hardened /proc):
	// every fact is unknown and says why.
	const empty = "/fixture/empty"
	got = readLinuxFacts(empty, chkTree(empty, nil))
	if got.UnprivilegedPortStart != -1 || got.LocalPortRange != (PortSpan{}) || got.CapNetBindService != model.Unknown || len(got.Unknown) != 4 {
		t.Errorf("readLinuxFacts(empty) = %+v; want every fact unknown, with 4 reasons", got)
	}
	for _, u := range got.Unknown {
		if !strings.Contains(u, empty) || !strings.Contains(u, "not exist") {
			t.Errorf("unknown fact %q does not name the file and the error", u)
		}
	}
	bad := chkTree(root, map[string]string{
		"sys/net/ipv4/ip_unprivileged_port_start": "many\n",
		"sys/net/ipv4/ip_local_port_range":        "60999 32768\n",
		"sys/net/ipv4/ip_local_reserved_ports":    "1-\n",
		"self/status":                             "Name:\tx\n",
	})
	if got := readLinuxFacts(root, bad); len(got.Unknown) != 4 || got.UnprivilegedPortStart != -1 {
		t.Errorf("readLinuxFacts(malformed) = %+v; want 4 unknown facts", got)
	}
	denied := func(string) ([]byte, error) { return nil, fs.ErrPermission }
	if got := readLinuxFacts("/proc", denied); !strings.Contains(strings.Join(got.Unknown, "\n"), "permission denied") {
		t.Errorf("readLinuxFacts(denied).Unknown = %q; want the permission error", got.Unknown)
	}
}

var (
	chkV4Any = netip.IPv4Unspecified()
	chkV6Any = netip.IPv6Unspecified()
)

func chkTrial(proto model.Proto, a netip.Addr, port uint16, err BindError, code string) BindTrial {
	t := BindTrial{Proto: proto, Addr: netip.AddrPortFrom(a, port), Err: err, Code: code}
	if err != BindOK {
		t.Step = "bind"
	}
	return t
}

func chkLinuxFacts() BindFacts {
	return BindFacts{OS: "linux", EUID: 1000, User: "alice", UnprivilegedPortStart: 1024, CapNetBindService: model.No,
		LocalPortRange: PortSpan{32768, 60999}}
}

func chkListener(proto model.Proto, addr string, port uint16, v6only model.Tristate, pid int, name string) model.Socket {
	s := model.Socket{Proto: proto, Local: netip.AddrPortFrom(netip.MustParseAddr(addr), port), State: model.Listen, V6Only: v6only}
	if proto == model.UDP {
		s.State = model.Close
	}
	if pid > 0 {
		s.Holders = []model.Holder{{PID: pid, Process: &model.Process{PID: pid, Name: name}}}
	}
	return s
}

func chkCommands(fs []CheckFix) []string {
	var out []string
	for _, f := range fs {
		if f.Command != "" {
			out = append(out, f.Command)
		}
	}
	return out
}

func chkHas(ss []string, sub string) bool {
	return slices.ContainsFunc(ss, func(s string) bool { return strings.Contains(s, sub) })
}

func TestExplainCheckLinux(t *testing.T) {
	dual := chkListener(model.TCP, "::", 8080, model.No, 812, "java")
	lo := chkListener(model.TCP, "127.0.0.1", 8080, model.Unknown, 900, "python3")
	tw := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:40000"), State: model.TimeWait}
	okRP := chkTrial(model.TCP, chkV4Any, 8080, BindOK, "")
	failRP := chkTrial(model.TCP, chkV4Any, 8080, BindInUse, "EADDRINUSE")
	okV6 := chkTrial(model.TCP, chkV6Any, 8080, BindOK, "")

	tests := []struct {
		name         string
		in           CheckInput
		bindable     bool
		reasons      []BindReason
		textHas      []string // in the address texts
		notesHas     []string
		warnHas      []string
		fixCommands  []string // exactly these commands, in order
		conflictPIDs []int
	}{
		{
			name: "privileged port as an ordinary user",
			in: CheckInput{Proto: model.TCP, Port: 80, Facts: chkLinuxFacts(), Attempts: []BindAttempt{
				{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 80, BindDenied, "EACCES")},
				{Addr: chkV6Any, Server: chkTrial(model.TCP, chkV6Any, 80, BindDenied, "EACCES")},
			}},
			reasons: []BindReason{ReasonPrivileged, ReasonPrivileged},
			textHas: []string{"port 80 is privileged", "ip_unprivileged_port_start (1024)", "uid 1000, alice", "bind: EACCES"},
			fixCommands: []string{
				"sudo setcap cap_net_bind_service=+ep /path/to/server",
				"systemd-socket-activate -l 80 /path/to/server",
				"sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80",
			},
		},
		{
			name: "denied on a port that is not privileged",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(), Attempts: []BindAttempt{
				{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 8080, BindDenied, "EPERM")},
			}},
			reasons: []BindReason{ReasonDenied},
			textHas: []string{"port 8080 is not privileged here", "security module", "bind: EPERM"},
		},
		{
			name: "IPv4 wildcard in use by a dual-stack listener",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{dual}},
				Attempts: []BindAttempt{
					{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 8080, BindInUse, "EADDRINUSE"), ReusePort: &failRP},
					{Addr: chkV6Any, Server: chkTrial(model.TCP, chkV6Any, 8080, BindInUse, "EADDRINUSE"), ReusePort: &failRP},
				}},
			reasons:      []BindReason{ReasonInUse, ReasonInUse},
			textHas:      []string{"java (pid 812) listens on [::]:8080, a dual-stack socket (IPV6_V6ONLY off) that holds the IPv4 port too"},
			notesHas:     []string{"takes IPv4 too because IPV6_V6ONLY is off", "SO_REUSEADDR does not help", "SO_REUSEPORT would not help either"},
			fixCommands:  []string{"whobinds free tcp/8080"},
			conflictPIDs: []int{812},
		},
		{
			name: "explicit :: in use by an IPv4 listener; IPV6_V6ONLY would bind",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{chkListener(model.TCP, "0.0.0.0", 8080, model.Unknown, 77, "nginx")}},
				Attempts: []BindAttempt{
					{Addr: chkV6Any, Server: chkTrial(model.TCP, chkV6Any, 8080, BindInUse, "EADDRINUSE"), ReusePort: &okRP, V6Only: &okV6},
				}},
			reasons:      []BindReason{ReasonInUse},
			textHas:      []string{"nginx (pid 77) listens on 0.0.0.0:8080; a dual-stack [::]"},
			notesHas:     []string{"binds with IPV6_V6ONLY set", "SO_REUSEPORT would let a second server bind"},
			conflictPIDs: []int{77},
		},
		{
			name: "only loopback is taken",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{lo}},
				Attempts: []BindAttempt{
					{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 8080, BindInUse, "EADDRINUSE"), ReusePort: &failRP},
					{Addr: chkV6Any, Server: okV6, Plain: &okV6},
				}},
			reasons:      []BindReason{ReasonInUse, ""},
			textHas:      []string{"python3 (pid 900) listens on 127.0.0.1:8080, which the wildcard 0.0.0.0 covers"},
			notesHas:     []string{"only 127.0.0.1 is taken"},
			conflictPIDs: []int{900},
		},
		{
			name: "TIME-WAIT leftovers without SO_REUSEADDR",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{tw}},
				Attempts: []BindAttempt{
					{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 8080, BindInUse, "EADDRINUSE"), ReusePort: &failRP},
				}},
			reasons:  []BindReason{ReasonInUse},
			textHas:  []string{"held by 1 TIME-WAIT leftover of a closed connection, without SO_REUSEADDR"},
			notesHas: []string{"a TIME-WAIT leftover keeps the option of the socket it came from"},
		},
		{
			name: "TIME-WAIT leftovers that SO_REUSEADDR ignores",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{tw, tw}},
				Attempts: []BindAttempt{
					{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 8080, BindOK, ""), Plain: chkPtr(chkTrial(model.TCP, chkV4Any, 8080, BindInUse, "EADDRINUSE"))},
				}},
			bindable: true,
			reasons:  []BindReason{""},
			notesHas: []string{"binds only with SO_REUSEADDR (without it: EADDRINUSE) because of 2 TIME-WAIT leftovers"},
		},
		{
			name: "UDP in use",
			in: CheckInput{Proto: model.UDP, Port: 5353, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{chkListener(model.UDP, "0.0.0.0", 5353, model.Unknown, 600, "avahi-daemon")}},
				Attempts: []BindAttempt{
					{Addr: chkV4Any, Server: chkTrial(model.UDP, chkV4Any, 5353, BindInUse, "EADDRINUSE")},
				}},
			reasons:      []BindReason{ReasonInUse},
			textHas:      []string{"avahi-daemon (pid 600) is bound to 0.0.0.0:5353"},
			notesHas:     []string{"Neither was tried"},
			conflictPIDs: []int{600},
		},
		{
			name: "in use, owner hidden",
			in: CheckInput{Proto: model.TCP, Port: 5432, Facts: chkLinuxFacts(),
				Snapshot: &model.Snapshot{Sockets: []model.Socket{{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:5432"), State: model.Listen, Hidden: "needs root"}},
					Hidden: model.Hidden{Sockets: 1, Reason: "needs root", NeedsRoot: true}},
				Attempts: []BindAttempt{{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 5432, BindInUse, "EADDRINUSE")}}},
			reasons:  []BindReason{ReasonInUse},
			textHas:  []string{"a socket whose owner is hidden (needs root) listens on 0.0.0.0:5432"},
			notesHas: []string{"some owners on the port are hidden (needs root)"},
		},
		{
			name: "in use, sockets not listed",
			in: CheckInput{Proto: model.TCP, Port: 5432, Facts: chkLinuxFacts(), SnapshotErr: "netlink: operation not permitted",
				Attempts: []BindAttempt{{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 5432, BindInUse, "EADDRINUSE")}}},
			reasons: []BindReason{ReasonInUse},
			textHas: []string{"could not be listed: netlink: operation not permitted"},
		},
		{
			name: "an address of another host",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(), Attempts: []BindAttempt{
				{Addr: netip.MustParseAddr("192.0.2.7"), Server: chkTrial(model.TCP, netip.MustParseAddr("192.0.2.7"), 8080, BindNotLocal, "EADDRNOTAVAIL")},
			}},
			reasons:     []BindReason{ReasonNotLocal},
			textHas:     []string{"192.0.2.7 is not an address of this host (bind: EADDRNOTAVAIL)"},
			fixCommands: []string{"ip -brief address", "sudo sysctl -w net.ipv4.ip_nonlocal_bind=1"},
		},
		{
			name: "free port in the ephemeral range",
			in: CheckInput{Proto: model.TCP, Port: 40000, Facts: chkLinuxFacts(), Attempts: []BindAttempt{
				{Addr: chkV4Any, Server: okRP, Plain: &okRP},
				{Addr: chkV6Any, Server: chkTrial(model.TCP, chkV6Any, 40000, BindNoFamily, "EAFNOSUPPORT")},
			}},
			bindable: true,
			reasons:  []BindReason{"", ReasonNoFamily},
			textHas:  []string{"IPv6 is not available on this host"},
			warnHas:  []string{"lies in the ephemeral port range 32768-60999", "net.ipv4.ip_local_reserved_ports=40000,"},
		},
		{
			name: "free port, reserved, as root below the limit",
			in: CheckInput{Proto: model.TCP, Port: 443,
				Facts: func() BindFacts {
					f := chkLinuxFacts()
					f.EUID, f.CapNetBindService, f.LocalPortRange = 0, model.Yes, PortSpan{1, 60999}
					f.ReservedPorts, f.ReservedPortsText = []PortSpan{{443, 443}}, "443"
					return f
				}(),
				Attempts: []BindAttempt{{Addr: chkV4Any, Server: okRP, Plain: &okRP}}},
			bindable: true,
			reasons:  []BindReason{""},
			notesHas: []string{"it binds because this process is root", "in net.ipv4.ip_local_reserved_ports"},
		},
		{
			name: "no family at all",
			in: CheckInput{Proto: model.TCP, Port: 8080, Facts: chkLinuxFacts(), Attempts: []BindAttempt{
				{Addr: chkV6Any, Server: chkTrial(model.TCP, chkV6Any, 8080, BindNoFamily, "EAFNOSUPPORT")},
			}},
			reasons: []BindReason{ReasonNoFamily},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ExplainCheck(tt.in)
			if r.Bindable != tt.bindable {
				t.Errorf("Bindable = %v; want %v", r.Bindable, tt.bindable)
			}
			var reasons, texts []string
			for _, a := range r.Addrs {
				reasons = append(reasons, string(a.Reason))
				texts = append(texts, a.Text)
			}
			var want []string
			for _, x := range tt.reasons {
				want = append(want, string(x))
			}
			if diff := cmp.Diff(want, reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			for _, sub := range tt.textHas {
				if !chkHas(texts, sub) {
					t.Errorf("address texts %q; want one containing %q", texts, sub)
				}
			}
			for _, sub := range tt.notesHas {
				if !chkHas(r.Notes, sub) {
					t.Errorf("notes %q; want one containing %q", r.Notes, sub)
				}
			}
			for _, sub := range tt.warnHas {
				if !chkHas(r.Warnings, sub) {
					t.Errorf("warnings %q; want one containing %q", r.Warnings, sub)
				}
			}
			if len(tt.warnHas) == 0 && len(r.Warnings) > 0 {
				t.Errorf("warnings = %q; want none", r.Warnings)
			}
			if tt.fixCommands != nil {
				if diff := cmp.Diff(tt.fixCommands, chkCommands(r.Fixes)); diff != "" {
					t.Errorf("fix commands (-want +got):\n%s", diff)
				}
			}
			var pids []int
			for _, c := range r.Holders() {
				for _, h := range c.Socket.Holders {
					pids = append(pids, h.PID)
				}
			}
			if diff := cmp.Diff(tt.conflictPIDs, pids); diff != "" {
				t.Errorf("holders in the way (-want +got):\n%s", diff)
			}
		})
	}
}

func chkPtr[T any](v T) *T { return &v }

// readNetsh parses a recorded netsh output of the portrange package.
func chkNetsh(t *testing.T, name string, parse func(string) error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "windows", "portrange", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := parse(string(b)); err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
}

// TestExplainCheckWindows judges Windows trial binds with the excluded and
// dynamic ranges of recorded netsh output.
func TestExplainCheckWindows(t *testing.T) {
	var excluded, low []portrange.Range
	var dynamic portrange.Range
	chkNetsh(t, "excluded-en-tcp.txt", func(s string) (err error) {
		excluded, err = portrange.ParseExcluded(s, model.TCP, 4)
		return err
	})
	chkNetsh(t, "excluded-en-tcp-hyperv-low.txt", func(s string) (err error) {
		low, err = portrange.ParseExcluded(s, model.TCP, 4)
		return err
	})
	chkNetsh(t, "dynamic-en-tcp.txt", func(s string) (err error) {
		dynamic, err = portrange.ParseDynamic(s, model.TCP, 4)
		return err
	})
	facts := func(ex []portrange.Range) BindFacts {
		return BindFacts{OS: "windows", EUID: -1, UnprivilegedPortStart: -1, Excluded: ex, Dynamic: []portrange.Range{dynamic},
			URLACLs: []httpsys.URLACL{{Prefix: "http://+:80/Temporary_Listen_Addresses/", SDDL: "D:(A;;GX;;;WD)"}}}
	}
	wsaAccess := func(port uint16) BindAttempt {
		return BindAttempt{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, port, BindDenied, "WSAEACCES (10013)")}
	}
	system := chkListener(model.TCP, "0.0.0.0", 80, model.Unknown, 4, "System")
	system.Attributions = []model.Attribution{{Kind: model.AttrHTTPSys, Name: "http://+:80/Reports/", Service: "SQLServerReportingServices"}}

	tests := []struct {
		name     string
		in       CheckInput
		reason   BindReason
		textHas  string
		fixes    []string // exactly these fix texts
		notesHas []string
		warnHas  []string
	}{
		{
			name:    "run-time excluded range",
			in:      CheckInput{Proto: model.TCP, Port: 49700, Facts: facts(excluded), Attempts: []BindAttempt{wsaAccess(49700)}},
			reason:  ReasonExcluded,
			textHas: "port 49700 lies in the excluded port range 49671-49770 (tcp/ipv4), a run-time reservation (not persistent), most often made by Hyper-V's Host Network Service",
			fixes:   portrange.Fixes(portrange.Range{Proto: model.TCP, Family: 4, First: 49671, Last: 49770}, 49700),
			warnHas: []string{"lies in the dynamic port range 49152-65535"},
		},
		{
			name:    "range carved from a lowered dynamic range",
			in:      CheckInput{Proto: model.TCP, Port: 1080, Facts: facts(low), Attempts: []BindAttempt{wsaAccess(1080)}},
			reason:  ReasonExcluded,
			textHas: "excluded port range 1031-1130",
			fixes:   portrange.Fixes(portrange.Range{Proto: model.TCP, Family: 4, First: 1031, Last: 1130}, 1080),
		},
		{
			name:    "denied outside every listed range",
			in:      CheckInput{Proto: model.TCP, Port: 3000, Facts: facts(excluded), Snapshot: &model.Snapshot{}, Attempts: []BindAttempt{wsaAccess(3000)}},
			reason:  ReasonDenied,
			textHas: "no excluded port range lists port 3000",
		},
		{
			name: "denied while the ranges are unknown (Wine)",
			in: CheckInput{Proto: model.TCP, Port: 3000, Attempts: []BindAttempt{wsaAccess(3000)},
				Facts: BindFacts{OS: "windows", EUID: -1, UnprivilegedPortStart: -1, ExcludedUnknown: "netsh printed no excluded port ranges (Wine's netsh is a stub)"}},
			reason:  ReasonDenied,
			textHas: "the excluded port ranges are unknown (netsh printed no excluded port ranges (Wine's netsh is a stub))",
		},
		{
			name: "in use by http.sys, with a reservation on the port",
			in: CheckInput{Proto: model.TCP, Port: 80, Facts: facts(excluded), Snapshot: &model.Snapshot{Sockets: []model.Socket{system}},
				Attempts: []BindAttempt{{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 80, BindInUse, "WSAEADDRINUSE (10048)")}}},
			reason:   ReasonInUse,
			textHas:  "System (pid 4) listens on 0.0.0.0:80 (bind: WSAEADDRINUSE (10048))",
			notesHas: []string{"SO_REUSEADDR is no way out on Windows", "URL reservation for http://+:80/Temporary_Listen_Addresses/"},
		},
		{
			name: "denied by an exclusive holder",
			in: CheckInput{Proto: model.TCP, Port: 80, Facts: facts(excluded), Snapshot: &model.Snapshot{Sockets: []model.Socket{system}},
				Attempts: []BindAttempt{wsaAccess(80)}},
			reason:  ReasonInUse,
			textHas: "Windows denies a second bind next to it (bind: WSAEACCES (10013))",
		},
		{
			name:     "free port in an administered exclusion",
			in:       CheckInput{Proto: model.TCP, Port: 50010, Facts: facts(excluded), Attempts: []BindAttempt{{Addr: chkV4Any, Server: chkTrial(model.TCP, chkV4Any, 50010, BindOK, "")}}},
			notesHas: []string{"administered port exclusion 50000-50059"},
			warnHas:  []string{"dynamic port range 49152-65535"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ExplainCheck(tt.in)
			a := r.Addrs[0]
			if a.Reason != tt.reason || r.Bindable != (tt.reason == "") {
				t.Errorf("reason %q, bindable %v; want %q", a.Reason, r.Bindable, tt.reason)
			}
			if !strings.Contains(a.Text, tt.textHas) {
				t.Errorf("text = %q; want it to contain %q", a.Text, tt.textHas)
			}
			if tt.fixes != nil {
				var got []string
				for _, f := range r.Fixes {
					got = append(got, f.Text)
				}
				if diff := cmp.Diff(tt.fixes, got); diff != "" {
					t.Errorf("fixes (-want +got):\n%s", diff)
				}
			}
			for _, sub := range tt.notesHas {
				if !chkHas(r.Notes, sub) {
					t.Errorf("notes %q; want one containing %q", r.Notes, sub)
				}
			}
			for _, sub := range tt.warnHas {
				if !chkHas(r.Warnings, sub) {
					t.Errorf("warnings %q; want one containing %q", r.Warnings, sub)
				}
			}
		})
	}
}

// scriptedCheckOS answers trial binds from a table keyed by the trial's
// options, and records them.
type scriptedCheckOS struct {
	answer func(t *BindTrial) BindError
	tried  []BindTrial
	facts_ BindFacts
}

func (s *scriptedCheckOS) trial(t *BindTrial) {
	t.Err = s.answer(t)
	if t.Err != BindOK {
		t.Step, t.Code = "bind", string(t.Err)
	}
	s.tried = append(s.tried, *t)
}

func (s *scriptedCheckOS) facts(context.Context, model.Proto, uint16) BindFacts { return s.facts_ }

// TestCheckPlansTrials checks which variants Check tries after the server
// trial, through a scripted OS: the real trial binds are in
// check_linux_test.go.
func TestCheckPlansTrials(t *testing.T) {
	inUse := func(t *BindTrial) BindError { return BindInUse }
	tests := []struct {
		name    string
		os      string
		proto   model.Proto
		addr    netip.Addr
		answer  func(t *BindTrial) BindError
		want    []BindOptions
		collect bool
	}{
		{
			name: "free TCP port on Linux: server trial, then without SO_REUSEADDR", os: "linux", proto: model.TCP,
			answer: func(*BindTrial) BindError { return BindOK },
			want: []BindOptions{
				{ReuseAddr: true, Listen: true}, {Listen: true},
				{ReuseAddr: true, Listen: true, V6Only: model.Yes}, {Listen: true, V6Only: model.Yes},
			},
		},
		{
			name: "TCP port in use on Linux: SO_REUSEPORT bind, never listen", os: "linux", proto: model.TCP, answer: inUse, collect: true,
			want: []BindOptions{
				{ReuseAddr: true, Listen: true}, {ReuseAddr: true, ReusePort: true},
				{ReuseAddr: true, Listen: true, V6Only: model.Yes}, {ReuseAddr: true, ReusePort: true, V6Only: model.Yes},
			},
		},
		{
			name: "explicit :: in use: the IPV6_V6ONLY variant", os: "linux", proto: model.TCP, addr: chkV6Any, answer: inUse, collect: true,
			want: []BindOptions{{ReuseAddr: true, Listen: true}, {ReuseAddr: true, ReusePort: true}, {ReuseAddr: true, Listen: true, V6Only: model.Yes}},
		},
		{
			name: "UDP in use on Linux: no SO_REUSEADDR or SO_REUSEPORT trial", os: "linux", proto: model.UDP, addr: chkV4Any, answer: inUse, collect: true,
			want: []BindOptions{{}},
		},
		{
			name: "Windows: one exclusive trial each", os: "windows", proto: model.TCP, answer: func(*BindTrial) BindError { return BindDenied }, collect: true,
			want: []BindOptions{{Listen: true}, {Listen: true, V6Only: model.Yes}},
		},
		{
			name: "privileged on Linux: no sockets needed", os: "linux", proto: model.TCP, addr: chkV4Any, answer: func(*BindTrial) BindError { return BindDenied },
			want: []BindOptions{{ReuseAddr: true, Listen: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &scriptedCheckOS{answer: tt.answer, facts_: BindFacts{OS: tt.os, UnprivilegedPortStart: 1024}}
			old := checkSys
			checkSys = sys
			defer func() { checkSys = old }()
			collected := false
			collect := func(context.Context, engine.Query) (*model.Snapshot, error) {
				collected = true
				return &model.Snapshot{}, nil
			}
			if _, err := Check(context.Background(), CheckRequest{Proto: tt.proto, Port: 80, Addr: tt.addr, Collect: collect}); err != nil {
				t.Fatal(err)
			}
			var got []BindOptions
			for _, tr := range sys.tried {
				got = append(got, tr.BindOptions)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("trials (-want +got):\n%s", diff)
			}
			if collected != tt.collect {
				t.Errorf("sockets collected = %v; want %v", collected, tt.collect)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	old := checkSys
	checkSys = &scriptedCheckOS{answer: func(*BindTrial) BindError { return BindOK }}
	defer func() { checkSys = old }()
	for _, req := range []CheckRequest{{Proto: model.TCP}, {Proto: 0, Port: 80}} {
		if _, err := Check(context.Background(), req); err == nil {
			t.Errorf("Check(%+v) succeeded; want an error", req)
		}
	}
	checkSys = nil
	if _, err := Check(context.Background(), CheckRequest{Proto: model.TCP, Port: 80}); !errors.Is(err, engine.ErrNotSupported) {
		t.Errorf("Check without a backend = %v; want ErrNotSupported", err)
	}
}

// TestCheckThisHost makes real trial binds on every system with a
// backend (Linux; Windows, also under Wine): a free port binds, and a port
// this test listens on is in use, held by this test.
func TestCheckThisHost(t *testing.T) {
	eng, err := engine.New(engine.Options{})
	if errors.Is(err, engine.ErrNotSupported) {
		t.Skipf("no engine here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	check := func(port int, addr string) *CheckReport {
		t.Helper()
		r, err := Check(context.Background(), CheckRequest{Proto: model.TCP, Port: uint16(port), Addr: netip.MustParseAddr(addr), Collect: eng.Collect})
		if err != nil {
			t.Fatalf("Check(tcp/%d on %s): %v", port, addr, err)
		}
		return r
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := wine.Touch(ln.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	r := check(port, "127.0.0.1")
	if r.Bindable || r.Addrs[0].Reason != ReasonInUse {
		t.Fatalf("127.0.0.1:%d, where this test listens: %+v; want in use", port, r.Addrs)
	}
	t.Logf("in use: %s", r.Addrs[0].Text)
	hs := r.Holders()
	if len(hs) != 1 || len(hs[0].Socket.Holders) != 1 || hs[0].Socket.Holders[0].PID != os.Getpid() {
		t.Errorf("holders in the way = %+v; want this test (pid %d)", hs, os.Getpid())
	}
	ln.Close()
	if r := check(port, "127.0.0.1"); !r.Bindable {
		t.Errorf("127.0.0.1:%d after the listener closed: %+v; want bindable", port, r.Addrs)
	}
}
