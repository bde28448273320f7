package kb

// This file checks the hand-written data: ports.json (through the loader in
// kb.go) and oncrpc.json (read directly; its loader lives elsewhere). The
// checks are what a reviewer would otherwise do by eye: shapes, unique keys,
// sources, safe remedies, and the facts the seed documents give.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	dataOSes       = []string{Linux, Windows, Darwin, FreeBSD}
	dataRiskLevels = []string{RiskInfo, RiskLow, RiskMedium, RiskHigh}
	dataKinds      = []string{RemedyService, RemedyUnit, RemedyConfig, RemedyRegistry, RemedyFirewall, RemedyPackage, RemedyOther}
)

func dataEntries(t *testing.T) []Entry {
	t.Helper()
	es, err := Entries()
	if err != nil {
		t.Fatalf("Entries() error: %v", err)
	}
	return es
}

func entryID(e *Entry) string {
	if e.PortEnd != 0 {
		return fmt.Sprintf("%s/%d-%d", strings.Join(e.Protos, "+"), e.Port, e.PortEnd)
	}
	return fmt.Sprintf("%s/%d", strings.Join(e.Protos, "+"), e.Port)
}

// checkSource reports what is wrong with a source link, or "".
func checkSource(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err.Error()
	case u.Scheme != "https":
		return "not https"
	case u.Host == "":
		return "no host"
	}
	return ""
}

// checkOwner reports what is wrong with an owner, or "".
func checkOwner(o Owner) string {
	if !slices.Contains(dataOSes, o.OS) {
		return fmt.Sprintf("unknown OS %q", o.OS)
	}
	if o.Process == "" && o.Service == "" && o.Driver == "" {
		return "names no process, service or driver"
	}
	if o.Addr != "" {
		if _, err := netip.ParseAddr(o.Addr); err != nil {
			return fmt.Sprintf("addr %q: %v", o.Addr, err)
		}
	}
	if o.Driver == "http.sys" && o.Process != "System" {
		return fmt.Sprintf("http.sys owner with process %q; want System", o.Process)
	}
	return ""
}

func checkNames(names []string) string {
	if len(names) == 0 {
		return "no names"
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			return "empty name"
		case n != strings.ToLower(n):
			return fmt.Sprintf("name %q is not lower case", n)
		case strings.ContainsAny(n, " \t\n"):
			return fmt.Sprintf("name %q has white space", n)
		case seen[n]:
			return fmt.Sprintf("name %q repeated", n)
		}
		seen[n] = true
	}
	return ""
}

func TestEntriesAreWellFormed(t *testing.T) {
	for _, e := range dataEntries(t) {
		t.Run(entryID(&e), func(t *testing.T) {
			if e.Port == 0 {
				t.Errorf("port = 0; want ≥ 1")
			}
			if e.PortEnd != 0 && e.PortEnd <= e.Port {
				t.Errorf("port_end = %d; want 0 or > port %d", e.PortEnd, e.Port)
			}
			if len(e.Protos) == 0 {
				t.Errorf("protos empty")
			}
			for i, p := range e.Protos {
				if p != "tcp" && p != "udp" {
					t.Errorf("protos[%d] = %q; want tcp or udp", i, p)
				}
				if slices.Contains(e.Protos[:i], p) {
					t.Errorf("protos repeat %q", p)
				}
			}
			if msg := checkNames(e.Names); msg != "" {
				t.Errorf("names: %s", msg)
			}
			if strings.TrimSpace(e.Title) == "" || strings.TrimSpace(e.Purpose) == "" {
				t.Errorf("title %q / purpose %q: want both", e.Title, e.Purpose)
			}
			if len(e.Owners) == 0 {
				t.Errorf("no owners")
			}
			for i, o := range e.Owners {
				if msg := checkOwner(o); msg != "" {
					t.Errorf("owners[%d] %+v: %s", i, o, msg)
				}
			}
			if !slices.Contains(dataRiskLevels, e.Risk.Level) || strings.TrimSpace(e.Risk.Text) == "" {
				t.Errorf("risk = %+v; want a level among %v and a text", e.Risk, dataRiskLevels)
			}
			if len(e.Remedies) == 0 {
				t.Errorf("no remedies")
			}
			for i, r := range e.Remedies {
				if !slices.Contains(dataOSes, r.OS) || !slices.Contains(dataKinds, r.Kind) || strings.TrimSpace(r.Text) == "" {
					t.Errorf("remedies[%d] = %+v; want a known OS and kind and a text", i, r)
				}
			}
			if len(e.Sources) == 0 {
				t.Errorf("no sources")
			}
			for i, s := range e.Sources {
				if msg := checkSource(s); msg != "" {
					t.Errorf("sources[%d] = %q: %s", i, s, msg)
				}
			}
		})
	}
}

func TestEntriesAreSortedAndUnique(t *testing.T) {
	es := dataEntries(t)
	if len(es) < 200 {
		t.Errorf("len(Entries()) = %d; want ≥ 200", len(es))
	}
	seen := map[string]string{}
	for i := range es {
		e := &es[i]
		if i > 0 {
			prev := &es[i-1]
			if e.Port < prev.Port || e.Port == prev.Port && e.Protos[0] < prev.Protos[0] {
				t.Errorf("%s follows %s; want the file sorted by port, then first proto", entryID(e), entryID(prev))
			}
		}
		if e.PortEnd != 0 {
			continue
		}
		for _, p := range e.Protos {
			k := key(p, e.Port)
			if other, ok := seen[k]; ok {
				t.Errorf("%s: %s already described by %s", entryID(e), k, other)
			}
			seen[k] = entryID(e)
		}
	}
}

// killVerb matches commands that end processes rather than stop services.
var killVerb = regexp.MustCompile(`(?i)\b(taskkill|tskill|pkill|killall|kill|stop-process)\b|wmic\s+process\b.*\b(delete|terminate)\b`)

// criticalTarget matches what must never be killed: PIDs 0, 1 and 4 and the
// processes whose death takes the system down, and shared svchost hosts.
var criticalTarget = regexp.MustCompile(`(?i)(^|[\s=/:'"-])[014]\b|\b(system|lsass|csrss|wininit|services|smss|winlogon|svchost|systemd|init|launchd|kernel_task)(\.exe)?\b`)

// killsCritical reports whether a command would kill PID 0, 1 or 4 or a
// critical process.
func killsCritical(cmd string) bool {
	return killVerb.MatchString(cmd) && criticalTarget.MatchString(cmd)
}

func TestKillsCriticalRecognizesDanger(t *testing.T) {
	for _, tt := range []struct {
		cmd  string
		want bool
	}{
		{"taskkill /F /PID 4", true},
		{"taskkill /IM lsass.exe /F", true},
		{"Stop-Process -Id 4 -Force", true},
		{"Stop-Process -Name svchost", true},
		{"kill -9 1", true},
		{"sudo kill 1", true},
		{"killall systemd", true},
		{"wmic process where name='csrss.exe' delete", true},
		{"taskkill /IM winlogon.exe", true},
		{"Stop-Service -Name MsDepSvc; Set-Service -Name MsDepSvc -StartupType Disabled", false},
		{"systemctl disable --now ssh.service ssh.socket", false},
		{"kill 31337", false},
		{"netsh http add iplisten ipaddress=127.0.0.1", false},
		{"adb kill-server", false},
	} {
		if got := killsCritical(tt.cmd); got != tt.want {
			t.Errorf("killsCritical(%q) = %v; want %v", tt.cmd, got, tt.want)
		}
	}
}

func TestRemediesNeverKillCriticalProcesses(t *testing.T) {
	for _, e := range dataEntries(t) {
		for _, r := range e.Remedies {
			if killsCritical(r.Command) {
				t.Errorf("%s: remedy command %q kills PID 0/1/4 or a critical process", entryID(&e), r.Command)
			}
			// Remedies stop services and units; killing is whobinds free's
			// last resort, never knowledge-base advice.
			if killVerb.MatchString(r.Command) && !strings.Contains(r.Command, "kill-server") {
				t.Errorf("%s: remedy command %q kills a process; want a service, unit or config change", entryID(&e), r.Command)
			}
		}
	}
}

// ownerWant is a fact an entry's owners must hold on one OS: every non-empty
// field must match one owner (all fields of the same owner).
type ownerWant struct {
	os, process, service, driver, addr string
}

func (w ownerWant) matches(o Owner) bool {
	return o.OS == w.os &&
		(w.process == "" || o.Process == w.process) &&
		(w.service == "" || o.Service == w.service) &&
		(w.driver == "" || o.Driver == w.driver) &&
		(w.addr == "" || o.Addr == w.addr)
}

func win(process, service, driver string) ownerWant {
	return ownerWant{os: Windows, process: process, service: service, driver: driver}
}

func TestSeedAndExpectedOwners(t *testing.T) {
	for _, tt := range []struct {
		proto string
		port  uint16
		seed  bool // the seed documents name the port
		want  []ownerWant
	}{
		// The Windows XP tutorial (seeds/002) and the http.sys answers (seeds/000, 001).
		{"tcp", 23, true, []ownerWant{win("tlntsvr.exe", "TlntSvr", "")}},
		{"tcp", 42424, true, []ownerWant{win("aspnet_state.exe", "aspnet_state", "")}},
		{"tcp", 3001, true, []ownerWant{win("alg.exe", "ALG", "")}},
		{"tcp", 3002, true, []ownerWant{win("svchost.exe", "SharedAccess", "")}},
		{"tcp", 3003, true, []ownerWant{win("svchost.exe", "SharedAccess", "")}},
		{"tcp", 3004, true, []ownerWant{win("alg.exe", "ALG", "")}},
		{"udp", 3004, true, []ownerWant{win("svchost.exe", "RemoteAccess", "")}},
		{"udp", 3005, true, []ownerWant{win("svchost.exe", "RemoteAccess", "")}},
		{"tcp", 3007, true, []ownerWant{win("alg.exe", "ALG", "")}},
		{"udp", 500, true, []ownerWant{win("lsass.exe", "PolicyAgent", ""), win("svchost.exe", "IKEEXT", "")}},
		{"tcp", 445, true, []ownerWant{win("System", "LanmanServer", "srv2.sys"), {os: Linux, process: "smbd"}}},
		{"udp", 445, true, []ownerWant{win("System", "", "")}},
		{"tcp", 139, true, []ownerWant{
			win("System", "LanmanServer", "netbt.sys"), win("System", "LanmanWorkstation", "netbt.sys"),
			win("System", "Browser", "netbt.sys"), win("System", "Messenger", "netbt.sys")}},
		{"udp", 137, true, []ownerWant{win("System", "", "netbt.sys"), win("System", "LmHosts", "netbt.sys"), {os: Linux, process: "nmbd"}}},
		{"udp", 138, true, []ownerWant{win("System", "", "netbt.sys")}},
		{"tcp", 1025, true, []ownerWant{win("svchost.exe", "Schedule", "")}},
		{"tcp", 1026, true, []ownerWant{win("msdtc.exe", "MSDTC", "")}},
		{"tcp", 1027, true, []ownerWant{win("svchost.exe", "RasMan", "")}},
		{"tcp", 3019, true, []ownerWant{win("System", "", "")}},
		{"udp", 3026, true, []ownerWant{win("svchost.exe", "Dnscache", "")}},
		{"udp", 3066, true, []ownerWant{win("svchost.exe", "Dnscache", "")}},
		{"tcp", 2869, true, []ownerWant{win("System", "upnphost", "http.sys"), win("svchost.exe", "upnphost", "")}},
		{"tcp", 5000, true, []ownerWant{win("svchost.exe", "SSDPSRV", ""), {os: Darwin, process: "ControlCenter"}}},
		{"udp", 1900, true, []ownerWant{win("svchost.exe", "SSDPSRV", "")}},
		{"udp", 1645, true, []ownerWant{win("svchost.exe", "RemoteAccess", ""), win("svchost.exe", "IAS", "")}},
		{"udp", 1646, true, []ownerWant{win("svchost.exe", "RemoteAccess", "")}},
		{"udp", 1812, true, []ownerWant{win("svchost.exe", "RemoteAccess", ""), {os: Linux, process: "freeradius"}}},
		{"udp", 1813, true, []ownerWant{win("svchost.exe", "RemoteAccess", "")}},
		{"udp", 123, true, []ownerWant{win("svchost.exe", "W32Time", ""), {os: Linux, process: "chronyd"}, {os: Linux, process: "ntpd"}}},
		{"tcp", 3389, true, []ownerWant{win("svchost.exe", "TermService", "")}},
		{"udp", 3389, true, []ownerWant{win("svchost.exe", "TermService", "")}},
		{"tcp", 135, true, []ownerWant{win("svchost.exe", "RpcSs", ""), win("svchost.exe", "RpcEptMapper", "")}},
		{"tcp", 80, true, []ownerWant{
			win("System", "W3SVC", "http.sys"), win("System", "MsDepSvc", "http.sys"), win("System", "ReportServer", "http.sys"),
			{os: Linux, process: "nginx"}, {os: Linux, process: "apache2"}, {os: Linux, process: "httpd"}}},
		{"udp", 53, true, []ownerWant{
			{os: Linux, process: "systemd-resolve", service: "systemd-resolved.service", addr: "127.0.0.53"},
			{os: Linux, process: "systemd-resolve", addr: "127.0.0.54"},
			{os: Linux, process: "dnsmasq"}, {os: Linux, process: "named"}, {os: Linux, process: "unbound"},
			win("dns.exe", "DNS", "")}},
		{"udp", 67, true, []ownerWant{win("svchost.exe", "DHCPServer", "")}},
		{"udp", 68, true, []ownerWant{win("svchost.exe", "Dhcp", "")}},

		// Today's expected owners (not from the seeds).
		{"tcp", 5985, false, []ownerWant{win("System", "WinRM", "http.sys")}},
		{"tcp", 5986, false, []ownerWant{win("System", "WinRM", "http.sys")}},
		{"tcp", 47001, false, []ownerWant{win("System", "WinRM", "http.sys")}},
		{"tcp", 5357, false, []ownerWant{win("System", "", "http.sys")}},
		{"tcp", 8530, false, []ownerWant{win("System", "W3SVC", "http.sys")}},
		{"tcp", 7680, false, []ownerWant{win("svchost.exe", "DoSvc", "")}},
		{"udp", 5355, false, []ownerWant{win("svchost.exe", "Dnscache", ""), {os: Linux, process: "systemd-resolve"}}},
		{"udp", 5353, false, []ownerWant{{os: Linux, process: "avahi-daemon"}, {os: Darwin, process: "mDNSResponder"}}},
		{"tcp", 88, false, []ownerWant{win("lsass.exe", "Kdc", "")}},
		{"tcp", 389, false, []ownerWant{win("lsass.exe", "", ""), {os: Linux, process: "slapd"}}},
		{"tcp", 1433, false, []ownerWant{win("sqlservr.exe", "MSSQLSERVER", "")}},
		{"tcp", 22, false, []ownerWant{{os: Linux, process: "sshd", service: "ssh.service"}, {os: Linux, process: "systemd", service: "ssh.socket"}}},
		{"tcp", 111, false, []ownerWant{{os: Linux, process: "rpcbind", service: "rpcbind.service"}, {os: Linux, service: "rpcbind.socket"}}},
		{"tcp", 631, false, []ownerWant{{os: Linux, process: "cupsd", service: "cups.service"}, {os: Linux, service: "cups.socket"}}},
		{"tcp", 2049, false, []ownerWant{{os: Linux, driver: "nfsd"}}},
		{"udp", 4789, false, []ownerWant{{os: Linux, driver: "vxlan"}}},
		{"udp", 51820, false, []ownerWant{{os: Linux, driver: "wireguard"}}},
		{"tcp", 6379, false, []ownerWant{{os: Linux, process: "redis-server"}}},
		{"tcp", 7000, false, []ownerWant{{os: Darwin, process: "ControlCenter"}}},
		{"tcp", 9229, false, []ownerWant{{os: Linux, process: "node", addr: "127.0.0.1"}}},
	} {
		t.Run(fmt.Sprintf("%s/%d", tt.proto, tt.port), func(t *testing.T) {
			e, ok := Lookup(tt.proto, tt.port)
			if !ok {
				t.Fatalf("Lookup(%q, %d) = _, false; want an entry", tt.proto, tt.port)
			}
			if e.PortEnd != 0 {
				t.Errorf("Lookup(%q, %d) = range %s; want an entry for exactly this port", tt.proto, tt.port, entryID(e))
			}
			if tt.seed && strings.TrimSpace(e.Seed) == "" {
				t.Errorf("Lookup(%q, %d).Seed = \"\"; want what the seed documents say", tt.proto, tt.port)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(e.Owners, w.matches) {
					t.Errorf("Lookup(%q, %d).Owners has no owner matching %+v", tt.proto, tt.port, w)
				}
			}
		})
	}
}

func TestSeedFieldOnlyWhereTheSeedsSpeak(t *testing.T) {
	// Every seed text should mention the seeds' context, so a stray seed
	// field on an unrelated port stands out.
	for _, e := range dataEntries(t) {
		if e.Seed == "" {
			continue
		}
		if !strings.Contains(e.Seed, "Windows XP tutorial") && !strings.Contains(e.Seed, "PID 4") {
			t.Errorf("%s: seed %q does not say which seed document it paraphrases", entryID(&e), e.Seed)
		}
	}
}

func TestLookupPrefersExactPortsOverRanges(t *testing.T) {
	for _, tt := range []struct {
		proto    string
		port     uint16
		wantPort uint16
		wantEnd  uint16
	}{
		{"tcp", 49668, 49152, 65535},
		{"udp", 55000, 49152, 65535},
		{"tcp", 31000, 30000, 32767},
		{"udp", 51820, 51820, 0},
		{"tcp", 61616, 61616, 0},
		{"tcp", 50000, 50000, 0},
	} {
		e, ok := Lookup(tt.proto, tt.port)
		if !ok {
			t.Errorf("Lookup(%q, %d) = _, false; want %d-%d", tt.proto, tt.port, tt.wantPort, tt.wantEnd)
			continue
		}
		if e.Port != tt.wantPort || e.PortEnd != tt.wantEnd {
			t.Errorf("Lookup(%q, %d) = %s; want port %d, port_end %d", tt.proto, tt.port, entryID(e), tt.wantPort, tt.wantEnd)
		}
	}
}

func TestByNameFindsCommonNames(t *testing.T) {
	for _, tt := range []struct {
		name string
		want uint16
	}{
		{"winrm", 5985},
		{"WinRM", 5985},
		{"smb", 445},
		{"rdp", 3389},
		{"ssh", 22},
		{"http.sys", 80},
		{"redis", 6379},
		{"postgres", 5432},
		{"rpcbind", 111},
		{"llmnr", 5355},
		{"delivery-optimization", 7680},
		{"airplay", 5000},
		{"node-inspector", 9229},
		{"telnet", 23},
		{"aspnet_state", 42424},
	} {
		es := ByName(tt.name)
		if len(es) == 0 {
			t.Errorf("ByName(%q) = []; want port %d first", tt.name, tt.want)
			continue
		}
		if es[0].Port != tt.want {
			t.Errorf("ByName(%q)[0] = %s; want port %d", tt.name, entryID(es[0]), tt.want)
		}
	}
	if es := ByName("no-such-service"); len(es) != 0 {
		t.Errorf("ByName(%q) = %d entries; want none", "no-such-service", len(es))
	}
}

// oncrpcProgram is one program of oncrpc.json.
type oncrpcProgram = Program

func loadONCRPC(t *testing.T) []oncrpcProgram {
	t.Helper()
	b, err := os.ReadFile("oncrpc.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Programs []oncrpcProgram `json:"programs"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("oncrpc.json: %v", err)
	}
	return doc.Programs
}

func TestONCRPCProgramsAreWellFormed(t *testing.T) {
	ps := loadONCRPC(t)
	for i, p := range ps {
		t.Run(fmt.Sprint(p.Number), func(t *testing.T) {
			if i > 0 && p.Number <= ps[i-1].Number {
				t.Errorf("program %d follows %d; want ascending unique numbers", p.Number, ps[i-1].Number)
			}
			if msg := checkNames(p.Names); msg != "" {
				t.Errorf("names: %s", msg)
			}
			if strings.TrimSpace(p.Title) == "" {
				t.Errorf("title empty")
			}
			for j, o := range p.Owners {
				if msg := checkOwner(o); msg != "" {
					t.Errorf("owners[%d] %+v: %s", j, o, msg)
				}
			}
			if len(p.Owners) == 0 && p.Note == "" {
				t.Errorf("no owners and no note saying why")
			}
			if len(p.Sources) == 0 {
				t.Errorf("no sources")
			}
			for j, s := range p.Sources {
				if msg := checkSource(s); msg != "" {
					t.Errorf("sources[%d] = %q: %s", j, s, msg)
				}
			}
		})
	}
}

func TestONCRPCHasTheNFSAndNISPrograms(t *testing.T) {
	byNum := map[uint32]oncrpcProgram{}
	for _, p := range loadONCRPC(t) {
		byNum[p.Number] = p
	}
	for _, tt := range []struct {
		number uint32
		name   string
		owner  ownerWant
	}{
		{100000, "rpcbind", ownerWant{os: Linux, process: "rpcbind"}},
		{100001, "rstatd", ownerWant{}},
		{100002, "rusersd", ownerWant{}},
		{100003, "nfs", ownerWant{os: Linux, driver: "nfsd"}},
		{100004, "ypserv", ownerWant{os: Linux, process: "ypserv"}},
		{100005, "mountd", ownerWant{os: Linux, process: "rpc.mountd"}},
		{100007, "ypbind", ownerWant{}},
		{100011, "rquotad", ownerWant{os: Linux, process: "rpc.rquotad"}},
		{100021, "nlockmgr", ownerWant{os: Linux, driver: "lockd"}},
		{100024, "status", ownerWant{os: Linux, process: "rpc.statd"}},
		{100227, "nfs_acl", ownerWant{os: Linux, driver: "nfsd"}},
	} {
		p, ok := byNum[tt.number]
		if !ok {
			t.Errorf("program %d missing", tt.number)
			continue
		}
		if !slices.Contains(p.Names, tt.name) {
			t.Errorf("program %d names = %v; want %q among them", tt.number, p.Names, tt.name)
		}
		if tt.owner.os != "" && !slices.ContainsFunc(p.Owners, tt.owner.matches) {
			t.Errorf("program %d owners = %+v; want one matching %+v", tt.number, p.Owners, tt.owner)
		}
	}
}

// TestONCRPCCoversEtcRPC checks the table against this machine's /etc/rpc
// (netbase on Debian): every program listed there is in oncrpc.json under
// its primary name.
func TestONCRPCCoversEtcRPC(t *testing.T) {
	b, err := os.ReadFile("/etc/rpc")
	if err != nil {
		t.Skipf("no /etc/rpc to compare with: %v", err)
	}
	byNum := map[uint32]oncrpcProgram{}
	for _, p := range loadONCRPC(t) {
		byNum[p.Number] = p
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		var num uint32
		if _, err := fmt.Sscan(f[1], &num); err != nil {
			t.Fatalf("/etc/rpc line %q: %v", line, err)
		}
		n++
		p, ok := byNum[num]
		if !ok {
			t.Errorf("/etc/rpc program %d (%s) missing from oncrpc.json", num, f[0])
			continue
		}
		if !slices.Contains(p.Names, strings.ToLower(f[0])) {
			t.Errorf("program %d names = %v; want %q from /etc/rpc", num, p.Names, f[0])
		}
	}
	if n == 0 {
		t.Errorf("/etc/rpc had no programs")
	}
}
