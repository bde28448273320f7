package render

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// fixture is a scripted snapshot with the shapes the renderers must handle.
func fixture() *model.Snapshot {
	hostNS := model.NetNS{Inode: 4026531840, Name: "host"}
	nginx := &model.Process{
		PID: 1201, PPID: 1, Name: "nginx", Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: master process /usr/sbin/nginx", "-g", "daemon off;"},
		UID: 0, User: "root", Start: now.Add(-2*time.Hour - 13*time.Minute), StartTicks: 4242, Cgroup: "/system.slice/nginx.service",
		Ancestors: []model.Ancestor{{PID: 1, Name: "systemd"}},
	}
	worker := func(pid int) *model.Process {
		return &model.Process{PID: pid, PPID: 1201, Name: "nginx", Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: worker process"},
			UID: 33, User: "www-data", Start: now.Add(-2 * time.Hour), Cgroup: "/system.slice/nginx.service",
			Ancestors: []model.Ancestor{{PID: 1201, Name: "nginx"}, {PID: 1, Name: "systemd"}}}
	}
	holders := []model.Holder{{PID: 1201, FDs: []int{6}, Process: nginx}}
	for _, pid := range []int{1202, 1203, 1204, 1205} {
		holders = append(holders, model.Holder{PID: pid, FDs: []int{6}, Process: worker(pid)})
	}
	unit := []model.Attribution{{Kind: model.AttrUnit, PID: 1201, Name: "nginx.service", Manager: "system", Evidence: "cgroup /system.slice/nginx.service"}}
	proxy := &model.Process{PID: 3001, PPID: 900, Name: "docker-proxy", Exe: "/usr/bin/docker-proxy",
		Cmdline: []string{"/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "8080", "-container-ip", "172.17.0.2", "-container-port", "80"},
		UID:     0, User: "root", Start: now.Add(-26 * time.Hour), Cgroup: "/system.slice/docker.service",
		Ancestors: []model.Ancestor{{PID: 900, Name: "dockerd"}, {PID: 1, Name: "systemd"}}}
	evil := &model.Process{PID: 4000, PPID: 1, Name: "evil\x1b[2J", Cmdline: []string{"./evil\nname"}, UID: 1000, User: "alice", Start: now.Add(-30 * time.Second)}
	return &model.Snapshot{
		Host: model.Host{Hostname: "web1", OS: "linux", Time: now, EUID: 0, NetNS: hostNS, Namespaces: []model.NetNS{hostNS}},
		Sockets: []model.Socket{
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:80"), State: model.Listen, Inode: 5001, NetNS: hostNS, SendQ: 511, Holders: holders, Attributions: unit},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("[::]:80"), State: model.Listen, Inode: 5002, NetNS: hostNS, SendQ: 511, V6Only: model.Yes, Holders: holders, Attributions: unit},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), State: model.Listen, Inode: 6001, NetNS: hostNS,
				Holders: []model.Holder{{PID: 3001, FDs: []int{4}, Process: proxy}},
				Attributions: []model.Attribution{
					{Kind: model.AttrForwarder, PID: 3001, Manager: "docker-proxy", Name: "web", ID: "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a", Image: "nginx:1.27",
						Target: netip.MustParseAddrPort("172.17.0.2:80"), Detail: "docker-proxy forwards this port to container web at 172.17.0.2:80", Evidence: "command line of PID 3001"},
					{Kind: model.AttrUnit, PID: 3001, Name: "docker.service", Manager: "system", Evidence: "cgroup /system.slice/docker.service"},
					{Kind: model.AttrStartedBy, PID: 3001, Name: "dockerd", Detail: "dockerd (900) ← systemd (1)", Evidence: "parent chain from /proc/PID/stat"},
				}},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:9999"), State: model.Listen, Inode: 7001, UID: 1000, NetNS: hostNS,
				Holders: []model.Holder{{PID: 4000, FDs: []int{3}, Process: evil}}},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:2024"), State: model.Listen, Inode: 662, NetNS: hostNS, Hidden: "needs root"},
			{Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:4789"), State: model.Close, Inode: 11974, NetNS: hostNS,
				Attributions: []model.Attribution{{Kind: model.AttrKernel, Name: "vxlan0", Manager: "vxlan",
					Detail: "UDP socket of vxlan device vxlan0 (VNI 42): the kernel opens it while the device is up", Evidence: "rtnetlink: link vxlan0 kind vxlan"}}},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:22"), State: model.Listen, Inode: 8001, NetNS: hostNS,
				Holders: []model.Holder{{PID: 1, FDs: []int{51}, Process: &model.Process{PID: 1, Name: "systemd", Cmdline: []string{"/sbin/init"}, User: "root", Start: now.Add(-72 * time.Hour), Ancestors: []model.Ancestor{}}}},
				Attributions: []model.Attribution{{Kind: model.AttrSocketActivation, PID: 1, Name: "ssh.socket", Service: "ssh.service", Manager: "systemd",
					Detail: "systemd listens here for ssh.socket and starts ssh.service on the first connection", Evidence: "/lib/systemd/system/ssh.socket"}}},
		},
		Hidden: model.Hidden{Sockets: 1, Processes: []int{1, 650}, Reason: "needs root", NeedsRoot: true},
	}
}

func TestTableGolden(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"pipe.tsv", Options{}},
		{"pipe-wide.tsv", Options{Wide: true}},
		{"tty.txt", Options{TTY: true, Width: 200}},
		{"tty-narrow.txt", Options{TTY: true, Width: 80}},
		{"tty-color.txt", Options{TTY: true, Color: true, Width: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Table(&b, fixture().Sockets, tt.opt); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, "table-"+tt.name, b.Bytes())
			if tt.opt.Width > 0 && !tt.opt.Color {
				for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
					if n := len([]rune(l)); n > tt.opt.Width {
						t.Errorf("line of %d runes exceeds width %d: %q", n, tt.opt.Width, l)
					}
				}
			}
		})
	}
}

func TestPipeOutputIsUntruncatedAndClean(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, fixture().Sockets, Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "…") {
		t.Errorf("pipe output has escape codes or ellipses:\n%s", out)
	}
	if !strings.Contains(out, "1201,1202,1203,1204,1205") {
		t.Errorf("pipe output does not list every holder:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := strings.Count(l, "\t"); n != 6 {
			t.Errorf("row has %d tabs; want 6 (7 columns): %q", n, l)
		}
	}
}

func TestCSVGolden(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, fixture().Sockets); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "sockets.csv", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	q := Query{Targets: []string{"80"}, Protocols: []string{"tcp", "udp"}, Families: []int{4, 6}}
	if err := JSON(&b, fixture(), q, Options{Hint: "sudo whobinds --json"}); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "sockets.json", b.Bytes())

	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != Schema {
		t.Errorf("schema = %v; want %s", doc["schema"], Schema)
	}
	// Every socket says what could not be seen, null or a reason.
	for _, s := range doc["sockets"].([]any) {
		if _, ok := s.(map[string]any)["owners_hidden"]; !ok {
			t.Errorf("socket %v has no owners_hidden field", s)
		}
	}
}

func TestNarrativeGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Options
	}{
		{"narrative.txt", Options{Hint: "sudo whobinds 80"}},
		{"narrative-explain.txt", Options{Explain: true, Hint: "sudo whobinds -e 80"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Narrative(&b, fixture(), tt.opt); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, tt.name, b.Bytes())
			if strings.Contains(b.String(), "\x1b") {
				t.Error("narrative without colour has an escape sequence (a process name was not sanitized)")
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		45 * time.Second:              "45s",
		3*time.Minute + 2*time.Second: "3m02s",
		2*time.Hour + 13*time.Minute:  "2h13m",
		50 * time.Hour:                "2d2h",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		comm string
		argv []string
		want string
	}{
		{"systemd-socket-", []string{"systemd-socket-activate", "-l", "80"}, "systemd-socket-activate"},
		{"systemd-socket-", []string{"/usr/bin/systemd-socket-activate"}, "systemd-socket-activate"},
		{"nginx", []string{"nginx: master process"}, "nginx"},
		{"abcdefghijklmno", []string{"/x/other-program"}, "abcdefghijklmno"},
		{"abcdefghijklmno", nil, "abcdefghijklmno"},
	}
	for _, tt := range tests {
		if got := displayName(&model.Process{Name: tt.comm, Cmdline: tt.argv}); got != tt.want {
			t.Errorf("displayName(%q, %q) = %q; want %q", tt.comm, tt.argv, got, tt.want)
		}
	}
}

// windowsFixture is a Windows-shaped snapshot with the seeds' cases: port
// 80 held by System for the Web Deployment Agent Service (http.sys), RDP in
// a shared svchost, IPsec in lsass, SMB in the kernel, a dynamic RPC port,
// and WS-Discovery in an svchost whose exact service is unknown.
func windowsFixture() *model.Snapshot {
	proc := func(pid, ppid int, name, user string) *model.Process {
		return &model.Process{PID: pid, PPID: ppid, Name: name, User: user, Start: now.Add(-5 * time.Hour), Ancestors: []model.Ancestor{}}
	}
	system := proc(4, 0, "System", "SYSTEM")
	svchost := proc(1192, 640, "svchost.exe", "NETWORK SERVICE")
	svchost.Cmdline = []string{`C:\Windows\System32\svchost.exe`, "-k", "NetworkService"}
	lsass := proc(888, 580, "lsass.exe", "SYSTEM")
	svchostLocal := proc(1400, 640, "svchost.exe", "LOCAL SERVICE")
	h := func(p *model.Process) []model.Holder { return []model.Holder{{PID: p.PID, Process: p}} }
	ns := model.NetNS{}
	return &model.Snapshot{
		Host: model.Host{Hostname: "WIN-SRV", OS: "windows", Time: now},
		Sockets: []model.Socket{
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:80"), State: model.Listen, NetNS: ns, Holders: h(system),
				Attributions: []model.Attribution{{Kind: model.AttrHTTPSys, PID: 4, Name: "http://+:80/MSDEPLOYAGENTSERVICE/", Service: "MsDepSvc",
					Detail:   "registered by MsDepSvc in svchost.exe (PID 2344)",
					Evidence: "HTTP Server API request queues"}}},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:445"), State: model.Listen, NetNS: ns, Holders: h(system)},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:3389"), State: model.Listen, NetNS: ns, Holders: h(svchost),
				Attributions: []model.Attribution{{Kind: model.AttrService, PID: 1192, Name: "TermService", Detail: "Remote Desktop Services", Evidence: "service tag of the socket"}}},
			{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:49668"), State: model.Listen, NetNS: ns, Holders: h(lsass),
				Attributions: []model.Attribution{{Kind: model.AttrRPC, PID: 888, Name: "MS-NRPC (netlogon), MS-SAMR", Detail: "RPC interfaces registered on this port: MS-NRPC (netlogon), MS-SAMR", Evidence: "endpoint mapper"}}},
			{Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:500"), State: model.Close, NetNS: ns, Holders: h(lsass),
				Attributions: []model.Attribution{{Kind: model.AttrService, PID: 888, Name: "PolicyAgent", Detail: "IPsec Policy Agent", Evidence: "service tag of the socket"}}},
			{Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:3702"), State: model.Close, NetNS: ns, Holders: h(svchostLocal),
				Attributions: []model.Attribution{
					{Kind: model.AttrService, PID: 1400, Name: "FDResPub", Detail: "Function Discovery Resource Publication", Ambiguous: true, Evidence: "svchost.exe (PID 1400) hosts 2 services and the socket carries no service tag; running as administrator names the exact one"},
					{Kind: model.AttrService, PID: 1400, Name: "fdPHost", Detail: "Function Discovery Provider Host", Ambiguous: true, Evidence: "svchost.exe (PID 1400) hosts 2 services and the socket carries no service tag; running as administrator names the exact one"},
				}},
		},
	}
}

func TestWindowsNarrativeGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Narrative(&b, windowsFixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "narrative-windows.txt", b.Bytes())
	out := b.String()
	for _, want := range []string{"never     never end PID 4", "sc stop MsDepSvc", "netsh http add iplisten", "never end svchost.exe", "never end lsass.exe"} {
		if !strings.Contains(out, want) {
			t.Errorf("Windows narrative lacks %q", want)
		}
	}
}

func TestAuditGolden(t *testing.T) {
	fw := func(s *model.Socket) model.FirewallVerdict {
		if s.Local.Port() == 8080 {
			return model.FirewallVerdict{Verdict: "drop", Rule: "inet filter input: tcp dport 8080 drop", Source: "nftables"}
		}
		return model.FirewallVerdict{Verdict: "accept", Source: "nftables", Reason: "chain input policy accept"}
	}
	for _, tt := range []struct {
		name string
		snap *model.Snapshot
		fw   func(*model.Socket) model.FirewallVerdict
		info AuditInfo
	}{
		{"audit-linux", fixture(), fw, AuditInfo{Firewall: "The host firewall was read."}},
		{"audit-windows", windowsFixture(), nil, AuditInfo{Firewall: "The host firewall could not be read (not supported on windows yet)."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := explain.Audit(tt.snap, tt.fw)
			var md, js bytes.Buffer
			if err := AuditMarkdown(&md, tt.snap, fs, tt.info); err != nil {
				t.Fatal(err)
			}
			if err := AuditJSON(&js, tt.snap, fs, tt.info); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, tt.name+".md", md.Bytes())
			testutil.Golden(t, tt.name+".json", js.Bytes())
			if strings.Contains(md.String(), "127.0.0.1:22") {
				t.Error("the audit lists a loopback listener")
			}
		})
	}
}
