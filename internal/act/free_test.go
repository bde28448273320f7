package act

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
)

// The Linux-shaped fixtures: a host where whobinds runs as root in the
// initial PID namespace.
const frHostPIDNS = 4026531836

func frLinuxHost() model.Host {
	return model.Host{Hostname: "web1", OS: "linux", EUID: 0, NetNS: model.NetNS{Inode: 4026531840, Name: "host"}}
}

func frProc(pid, ppid int, name string, parent string) *model.Process {
	p := &model.Process{PID: pid, PPID: ppid, Name: name, User: "root", StartTicks: uint64(1000 + pid), PIDNS: frHostPIDNS,
		Cmdline: []string{"/usr/bin/" + name}}
	if parent != "" {
		p.Ancestors = []model.Ancestor{{PID: ppid, Name: parent}}
	}
	return p
}

func frHolders(ps ...*model.Process) []model.Holder {
	var hs []model.Holder
	for _, p := range ps {
		hs = append(hs, model.Holder{PID: p.PID, FDs: []int{3}, Process: p})
	}
	return hs
}

func frListener(local string, inode uint64, hs []model.Holder, as ...model.Attribution) model.Socket {
	ap := netip.MustParseAddrPort(local)
	return model.Socket{Proto: model.TCP, Local: ap, State: model.Listen, Inode: inode, Holders: hs, Attributions: as}
}

func frSnapshot(socks ...model.Socket) *model.Snapshot {
	return &model.Snapshot{Host: frLinuxHost(), Sockets: socks}
}

func frTarget(t *testing.T, s string) target.Target {
	t.Helper()
	tg, err := target.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// stepKinds summarizes a plan's steps as "kind name pid".
func frStepKinds(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		x := string(s.Kind) + " " + s.Name
		if s.PID != 0 {
			x += fmt.Sprintf(" %d", s.PID)
		}
		if s.IfRunning {
			x += " if-running"
		}
		out = append(out, x)
	}
	return out
}

func TestPlanFreeLinux(t *testing.T) {
	nginx := frProc(1201, 1, "nginx", "systemd")
	w1, w2 := frProc(1202, 1201, "nginx", "nginx"), frProc(1203, 1201, "nginx", "nginx")
	unit := func(pid int, name string) model.Attribution {
		return model.Attribution{Kind: model.AttrUnit, PID: pid, Name: name, Manager: "system", Evidence: "cgroup /system.slice/" + name}
	}
	nginxFacts := FreeFacts{Self: 99, PIDNS: frHostPIDNS, Units: map[string]SystemdUnit{
		UnitKey("system", "nginx.service"): {Name: "nginx.service", Manager: "system", MainPID: 1201, Restart: "on-failure", UnitFileState: "enabled"},
	}}
	dev := frProc(4242, 4100, "python3", "bash")
	runner := frProc(5000, 4990, "server", "job.sh")
	systemd := frProc(1, 0, "systemd", "")
	userSystemd := frProc(1500, 1, "systemd", "systemd")
	userSystemd.UID, userSystemd.User = 1000, "alice"
	dproxy := frProc(3001, 900, "docker-proxy", "dockerd")
	inCtr := frProc(3100, 3090, "nginx", "containerd-shim")
	inCtr.NSPID, inCtr.PIDNS = 1, 4026532500
	kthread := frProc(77, 2, "kworker/0:1", "kthreadd")
	kthread.Cmdline = nil
	ctrChild := frProc(40, 2, "app", "tini")
	other := frProc(6000, 5990, "app", "bash")
	other.UID, other.User = 1001, "bob"

	tests := []struct {
		name      string
		snap      *model.Snapshot
		target    string
		facts     FreeFacts
		steps     []string
		refusedBy []string // substrings, one per refusal
		supervise []string // kinds
	}{
		{
			name:      "plain process: SIGTERM, its parent named",
			snap:      frSnapshot(frListener("127.0.0.1:8000", 10, frHolders(dev))),
			target:    "tcp/8000",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"terminate python3 4242"},
			supervise: []string{"parent"},
		},
		{
			name:      "exact port: 8080 does not match 80, clients of connections are not listeners",
			snap:      frSnapshot(frListener("0.0.0.0:8080", 10, frHolders(dev)), model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:80"), Remote: netip.MustParseAddrPort("127.0.0.1:50000"), State: model.Established, Inode: 11, Holders: frHolders(runner)}),
			target:    "80",
			facts:     FreeFacts{Self: 99},
			steps:     nil,
			supervise: nil,
		},
		{
			name: "unit whose main process holds it, workers sharing: stop the unit first",
			snap: frSnapshot(frListener("0.0.0.0:80", 10, frHolders(nginx, w1, w2), unit(1201, "nginx.service"), unit(1202, "nginx.service"), unit(1203, "nginx.service")),
				frListener("[::]:80", 11, frHolders(nginx, w1, w2), unit(1201, "nginx.service"))),
			target:    "80",
			facts:     nginxFacts,
			steps:     []string{"stop-unit nginx.service", "terminate nginx 1201 if-running", "terminate nginx 1202 if-running", "terminate nginx 1203 if-running"},
			supervise: []string{"systemd"},
		},
		{
			name:      "holder runs in a unit but is not its main process: end it, name the unit",
			snap:      frSnapshot(frListener("127.0.0.1:9000", 10, frHolders(runner), unit(5000, "ci-runner.service"))),
			target:    "9000",
			facts:     FreeFacts{Self: 99, Units: map[string]SystemdUnit{UnitKey("system", "ci-runner.service"): {Name: "ci-runner.service", MainPID: 700, Restart: "always"}}},
			steps:     []string{"terminate server 5000"},
			supervise: []string{"systemd", "parent"},
		},
		{
			name:      "unit facts unknown: end the process, say the unit may restart it",
			snap:      frSnapshot(frListener("127.0.0.1:9000", 10, frHolders(runner), unit(5000, "app.service"))),
			target:    "9000",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"terminate server 5000"},
			supervise: []string{"systemd", "parent"},
		},
		{
			name:      "a login scope is never stopped",
			snap:      frSnapshot(frListener("127.0.0.1:9000", 10, frHolders(dev), unit(4242, "session-3.scope"))),
			target:    "9000",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"terminate python3 4242"},
			supervise: []string{"parent"},
		},
		{
			name: "socket activation: stop the socket unit and its service, PID 1 is covered",
			snap: frSnapshot(frListener("0.0.0.0:22", 10, frHolders(systemd),
				model.Attribution{Kind: model.AttrSocketActivation, PID: 1, Manager: "systemd", Name: "ssh.socket", Service: "ssh@.service"})),
			target:    "22",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"stop-unit ssh.socket", "stop-unit ssh@*.service"},
			supervise: []string{"socket-unit"},
		},
		{
			name: "socket activation by a user manager",
			snap: frSnapshot(frListener("127.0.0.1:7000", 10, frHolders(userSystemd),
				model.Attribution{Kind: model.AttrSocketActivation, PID: 1500, Manager: "systemd user@1000", Name: "dev.socket", Service: "dev.service"})),
			target:    "7000",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"stop-unit dev.socket", "stop-unit dev.service"},
			supervise: []string{"socket-unit"},
		},
		{
			name: "systemd holds it for a unit nobody declares: PID 1 refused",
			snap: frSnapshot(frListener("0.0.0.0:5000", 10, frHolders(systemd),
				model.Attribution{Kind: model.AttrSocketActivation, PID: 1, Manager: "systemd", Ambiguous: true})),
			target:    "5000",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"never kill PID 1"},
		},
		{
			name: "a user manager holds it for a unit nobody declares: never ended",
			snap: frSnapshot(frListener("127.0.0.1:7001", 10, frHolders(userSystemd),
				model.Attribution{Kind: model.AttrSocketActivation, PID: 1500, Manager: "systemd user@1000", Ambiguous: true})),
			target:    "7001",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"ending it would stop every unit it runs"},
		},
		{
			name: "docker-proxy: stop the container, not docker.service, not the proxy",
			snap: frSnapshot(frListener("0.0.0.0:8081", 10, frHolders(dproxy),
				model.Attribution{Kind: model.AttrForwarder, PID: 3001, Manager: "docker-proxy", Name: "web", ID: "abc123", Image: "nginx:1.27"},
				unit(3001, "docker.service"))),
			target:    "8081",
			facts:     FreeFacts{Self: 99, Containers: map[string]ContainerInfo{ContainerKey("docker", "web"): {Engine: "docker", Name: "web", RestartPolicy: "always"}}},
			steps:     []string{"stop-container web"},
			supervise: []string{"container"},
		},
		{
			name: "a forwarder for a container nobody named: refused",
			snap: frSnapshot(frListener("0.0.0.0:8082", 10, frHolders(dproxy),
				model.Attribution{Kind: model.AttrForwarder, PID: 3001, Manager: "docker-proxy"})),
			target:    "8082",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"forwards the port to a container"},
		},
		{
			name: "a process in a container's PID namespace with host networking: refused",
			snap: frSnapshot(frListener("0.0.0.0:8083", 10, frHolders(inCtr),
				model.Attribution{Kind: model.AttrContainer, PID: 3100, Manager: "containerd", ID: "f00"})),
			target:    "8083",
			facts:     FreeFacts{Self: 99, PIDNS: frHostPIDNS},
			refusedBy: []string{"another PID namespace (pid 1 there)"},
		},
		{
			name: "the kernel holds it for a vxlan device",
			snap: frSnapshot(model.Socket{Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:4789"), State: model.Close, Inode: 12,
				Attributions: []model.Attribution{{Kind: model.AttrKernel, Name: "vxlan0", Manager: "vxlan", Detail: "the VXLAN device vxlan0 receives its tunnel traffic here"}}}),
			target:    "udp/4789",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"the vxlan device vxlan0"},
		},
		{
			name:      "a kernel thread",
			snap:      frSnapshot(frListener("0.0.0.0:2049", 10, frHolders(kthread))),
			target:    "2049",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"is a kernel thread"},
		},
		{
			name: "seen from a child PID namespace: no visible holder",
			snap: frSnapshot(model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8084"), State: model.Listen, Inode: 13,
				Attributions: []model.Attribution{{Kind: model.AttrKernel, Ambiguous: true, Detail: "no process in this PID namespace holds this socket"}}}),
			target:    "8084",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"no process whobinds can see holds tcp 0.0.0.0:8084"},
		},
		{
			name:      "a child of PID 2 that is no kernel thread (PID 2 of a container)",
			snap:      frSnapshot(frListener("0.0.0.0:8085", 10, frHolders(ctrChild))),
			target:    "8085",
			facts:     FreeFacts{Self: 99},
			steps:     []string{"terminate app 40"},
			supervise: []string{"parent"},
		},
		{
			name:      "PID 1 that holds it itself",
			snap:      frSnapshot(frListener("0.0.0.0:9999", 10, frHolders(systemd))),
			target:    "9999",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"never kill PID 1"},
		},
		{
			name:      "whobinds itself",
			snap:      frSnapshot(frListener("127.0.0.1:9998", 10, frHolders(dev))),
			target:    "9998",
			facts:     FreeFacts{Self: 4242},
			refusedBy: []string{"this whobinds process"},
		},
		{
			name: "holders hidden from an unprivileged user",
			snap: &model.Snapshot{Host: model.Host{OS: "linux", EUID: 1000}, Sockets: []model.Socket{
				{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:80"), State: model.Listen, Inode: 10, Hidden: "needs root"}}},
			target:    "80",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"no holder of tcp 0.0.0.0:80 is visible (needs root)"},
		},
		{
			name:      "another user's process while not root",
			snap:      &model.Snapshot{Host: model.Host{OS: "linux", EUID: 1000}, Sockets: []model.Socket{frListener("127.0.0.1:6000", 10, frHolders(other))}},
			target:    "6000",
			facts:     FreeFacts{Self: 99},
			refusedBy: []string{"runs as bob, and whobinds runs as uid 1000"},
		},
		{
			name:   "nothing holds it",
			snap:   frSnapshot(),
			target: "8000",
			facts:  FreeFacts{Self: 99},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanFree(tt.snap, frTarget(t, tt.target), tt.facts, PlanOptions{})
			if diff := cmp.Diff(tt.steps, frStepKinds(p)); diff != "" {
				t.Errorf("PlanFree(%s) steps (-want +got):\n%s", tt.target, diff)
			}
			if len(p.Refusals) != len(tt.refusedBy) {
				t.Errorf("PlanFree(%s) refusals = %+v; want %d", tt.target, p.Refusals, len(tt.refusedBy))
			}
			for i, r := range p.Refusals {
				if i < len(tt.refusedBy) && !strings.Contains(r.Reason, tt.refusedBy[i]) {
					t.Errorf("PlanFree(%s) refusal %d = %q; want it to contain %q", tt.target, i, r.Reason, tt.refusedBy[i])
				}
				if r.Instead == "" {
					t.Errorf("PlanFree(%s) refusal %q has no alternative", tt.target, r.Reason)
				}
			}
			var kinds []string
			for _, s := range p.Supervisors {
				kinds = append(kinds, s.Kind)
			}
			if diff := cmp.Diff(tt.supervise, kinds); diff != "" {
				t.Errorf("PlanFree(%s) supervisors (-want +got):\n%s\n%+v", tt.target, diff, p.Supervisors)
			}
		})
	}
}

func TestPlanFreeCommands(t *testing.T) {
	userSystemd := frProc(1500, 1, "systemd", "systemd")
	userSystemd.UID, userSystemd.User = 1000, "alice"
	nginx := frProc(1201, 1, "nginx", "systemd")
	unitFacts := func(state string) FreeFacts {
		return FreeFacts{Units: map[string]SystemdUnit{UnitKey("system", "nginx.service"): {Name: "nginx.service", MainPID: 1201, UnitFileState: state}}}
	}
	nginxSnap := frSnapshot(frListener("0.0.0.0:80", 10, frHolders(nginx), model.Attribution{Kind: model.AttrUnit, PID: 1201, Name: "nginx.service", Manager: "system"}))
	tests := []struct {
		name  string
		snap  *model.Snapshot
		facts FreeFacts
		want  []string
	}{
		{"an enabled unit is disabled too", nginxSnap, unitFacts("enabled"), []string{"systemctl disable --now nginx.service", "kill -TERM 1201"}},
		{"a static unit is only stopped", nginxSnap, unitFacts("static"), []string{"systemctl stop nginx.service", "kill -TERM 1201"}},
		{"a user's socket unit, as root", frSnapshot(frListener("127.0.0.1:7000", 10, frHolders(userSystemd),
			model.Attribution{Kind: model.AttrSocketActivation, PID: 1500, Manager: "systemd user@1000", Name: "dev.socket", Service: "dev@.service"})),
			FreeFacts{}, []string{"systemctl --user -M alice@ disable --now dev.socket", "systemctl --user -M alice@ stop 'dev@*.service'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanFree(tt.snap, target.Target{Lo: tt.snap.Sockets[0].Local.Port(), Hi: tt.snap.Sockets[0].Local.Port()}, tt.facts, PlanOptions{})
			var got []string
			for _, s := range p.Steps {
				got = append(got, s.Command)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

// readSnapshot reads a recorded snapshot: model.Snapshot as encoding/json
// writes it.
func frReadSnapshot(t *testing.T, name string) *model.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "free", name))
	if err != nil {
		t.Fatal(err)
	}
	var s model.Snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &s
}

// TestPlanFreeWindows plans from a recorded Windows-shaped snapshot: the
// plans are golden files (testdata/free/windows-PORT.json), and the table
// says what each must contain.
func TestPlanFreeWindows(t *testing.T) {
	snap := frReadSnapshot(t, "windows.json")
	tests := []struct {
		target  string
		force   bool
		steps   []string
		refused string
	}{
		{target: "80", steps: []string{"stop-service MsDepSvc", "stop-service W3SVC"}},
		{target: "445", refused: "never end PID 4 (System)"},
		{target: "1433", steps: []string{"stop-service MSSQLSERVER"}},
		{target: "3389", steps: []string{"stop-service TermService"}},
		{target: "8000", refused: "not a service"},
		{target: "8080", refused: "no graceful way"},
		{target: "8080", force: true, steps: []string{"terminate node.exe 5120"}},
		{target: "9000", force: true, refused: "creation time of agent.exe (pid 7300) is unknown"},
		{target: "49668", refused: "never end lsass.exe"},
		{target: "50000", refused: "who registered http://+:50000/reports/ is unknown"},
		{target: "udp/3702", refused: "never end svchost.exe"},
	}
	for _, tt := range tests {
		name := strings.ReplaceAll(tt.target, "/", "-")
		if tt.force {
			name += "-force"
		}
		t.Run(name, func(t *testing.T) {
			p := PlanFree(snap, frTarget(t, tt.target), FreeFacts{Self: 1}, PlanOptions{Force: tt.force})
			if diff := cmp.Diff(tt.steps, frStepKinds(p)); diff != "" {
				t.Errorf("PlanFree(%s) steps (-want +got):\n%s", tt.target, diff)
			}
			switch {
			case tt.refused == "" && p.Refused():
				t.Errorf("PlanFree(%s) refusals = %+v; want none", tt.target, p.Refusals)
			case tt.refused != "" && (len(p.Refusals) != 1 || !strings.Contains(p.Refusals[0].Reason, tt.refused)):
				t.Errorf("PlanFree(%s) refusals = %+v; want one containing %q", tt.target, p.Refusals, tt.refused)
			}
			for _, s := range p.Steps {
				if s.Kind == Terminate && (s.PID == 4 || s.Name == "svchost.exe") {
					t.Errorf("PlanFree(%s) ends %s (pid %d)", tt.target, s.Name, s.PID)
				}
			}
			b, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("free", "windows-"+name+".json"), append(b, '\n'))
		})
	}
}

func TestPlanFreeWindowsAlternatives(t *testing.T) {
	snap := frReadSnapshot(t, "windows.json")
	tests := []struct {
		target, instead, command string
	}{
		{"udp/3702", "one of the services FDResPub, fdPHost in PID 1400", ""},
		{"445", "", "LanmanServer"},
		{"8000", "close that program", "taskkill /PID 6100"},
		{"50000", "run whobinds as administrator", "netsh http add iplisten ipaddress=127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			p := PlanFree(snap, frTarget(t, tt.target), FreeFacts{}, PlanOptions{})
			if len(p.Refusals) != 1 {
				t.Fatalf("PlanFree(%s) refusals = %+v; want one", tt.target, p.Refusals)
			}
			r := p.Refusals[0]
			if !strings.Contains(r.Instead, tt.instead) || !strings.Contains(r.Command, tt.command) {
				t.Errorf("PlanFree(%s) instead = %q, %q; want %q and %q in them", tt.target, r.Instead, r.Command, tt.instead, tt.command)
			}
		})
	}
}

func TestParseSystemctlShow(t *testing.T) {
	out := "Id=nginx.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nMainPID=1201\nRestart=on-failure\n\n" +
		"Id=ssh.socket\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\nMainPID=0\nRestart=\n\n" +
		"Id=gone.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\nMainPID=0\nRestart=no\n"
	got, err := ParseSystemctlShow([]byte(out), "system")
	if err != nil {
		t.Fatal(err)
	}
	want := []SystemdUnit{
		{Name: "nginx.service", Manager: "system", LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled", MainPID: 1201, Restart: "on-failure"},
		{Name: "ssh.socket", Manager: "system", LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"},
		{Name: "gone.service", Manager: "system", LoadState: "not-found", ActiveState: "inactive", Restart: "no"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseSystemctlShow (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"Id=x.service\nMainPID=abc\n", "Id=x.service\nno equals sign\n", "Id=x.service\nMainPID=-3\n"} {
		if _, err := ParseSystemctlShow([]byte(bad), "system"); err == nil {
			t.Errorf("ParseSystemctlShow(%q) = nil error; want one", bad)
		}
	}
}

func FuzzParseSystemctlShow(f *testing.F) {
	f.Add([]byte("Id=a.service\nMainPID=12\nRestart=always\n\nId=b.socket\n"))
	f.Add([]byte("\n\n\nId=\nMainPID=0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		units, err := ParseSystemctlShow(b, "system")
		for _, u := range units {
			if u.Name == "" || u.Manager != "system" || u.MainPID < 0 {
				t.Errorf("ParseSystemctlShow(%q) gave %+v (err %v)", b, u, err)
			}
		}
	})
}

func TestCameBack(t *testing.T) {
	old := frProc(4242, 4100, "server", "respawn")
	restarted := frProc(4300, 4100, "server", "respawn")
	samePID := frProc(4242, 4100, "server", "respawn")
	samePID.StartTicks += 500 // the PID was reused
	stranger := frProc(5000, 1, "other", "systemd")
	unitProc := frProc(1300, 1, "nginx", "systemd")
	p := Plan{Steps: []Step{
		{Kind: StopUnit, Name: "nginx.service", Manager: "system"},
		{Kind: Terminate, Name: "server", PID: 4242, StartTicks: old.StartTicks, PPID: 4100, Parent: "respawn"},
	}}
	tests := []struct {
		name string
		sock model.Socket
		by   string
		who  string
	}{
		{"did not exit", frListener("127.0.0.1:80", 20, frHolders(old)), "still-running", "--force"},
		{"respawned by its parent", frListener("127.0.0.1:80", 20, frHolders(restarted)), "parent", "started by respawn (pid 4100)"},
		{"a reused PID is not the old process", frListener("127.0.0.1:80", 20, frHolders(samePID)), "parent", "respawn"},
		{"restarted by its unit", frListener("127.0.0.1:80", 20, frHolders(unitProc), model.Attribution{Kind: model.AttrUnit, PID: 1300, Name: "nginx.service", Manager: "system"}), "systemd", "nginx.service again"},
		{"socket unit", frListener("127.0.0.1:80", 20, frHolders(frProc(1, 0, "systemd", "")), model.Attribution{Kind: model.AttrSocketActivation, PID: 1, Name: "web.socket", Manager: "systemd"}), "socket-unit", "web.socket"},
		{"a newcomer", frListener("127.0.0.1:80", 20, frHolders(stranger)), "other", "other (pid 5000) took the port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CameBack(&p, []model.Socket{tt.sock}, false)
			if len(got) != 1 || got[0].By != tt.by || !strings.Contains(got[0].Text, tt.who) {
				t.Errorf("CameBack(%s) = %+v; want by %q, text containing %q", tt.name, got, tt.by, tt.who)
			}
		})
	}
}

// fakeSystem records what the Freer asks of the OS.
type frFakeOS struct {
	calls    []string
	stopErr  error
	openErr  map[int]error
	exits    map[int]bool // exits on SIGTERM
	killable bool         // exits on SIGKILL
	// kids are the children of a parent before anything was signalled,
	// kidsAfter after.
	kids, kidsAfter map[int][]freeChild
	signalled       bool
}

func (f *frFakeOS) gather(context.Context, *model.Snapshot) FreeFacts { return FreeFacts{Self: 1} }
func (f *frFakeOS) stop(_ context.Context, s Step) error {
	f.calls = append(f.calls, "stop "+s.Name)
	return f.stopErr
}
func (f *frFakeOS) open(s Step) (freeProc, error) {
	f.calls = append(f.calls, fmt.Sprintf("open %d", s.PID))
	if err := f.openErr[s.PID]; err != nil {
		return nil, err
	}
	return &frFakeProc{f: f, pid: s.PID}, nil
}
func (f *frFakeOS) children(ppid int) []freeChild {
	if f.signalled {
		return f.kidsAfter[ppid]
	}
	return f.kids[ppid]
}

type frFakeProc struct {
	f      *frFakeOS
	pid    int
	exited bool
}

func (p *frFakeProc) terminate() error {
	p.f.calls = append(p.f.calls, fmt.Sprintf("SIGTERM %d", p.pid))
	p.f.signalled = true
	p.exited = p.f.exits[p.pid]
	return nil
}
func (p *frFakeProc) kill() error {
	p.f.calls = append(p.f.calls, fmt.Sprintf("SIGKILL %d", p.pid))
	p.exited = p.f.killable
	return nil
}
func (p *frFakeProc) wait(time.Time) bool { return p.exited }
func (p *frFakeProc) close()              {}

// fakeCollect returns the snapshots in turn, then the last one forever.
func frCollect(snaps ...*model.Snapshot) func(context.Context, engine.Query) (*model.Snapshot, error) {
	return func(context.Context, engine.Query) (*model.Snapshot, error) {
		s := snaps[0]
		if len(snaps) > 1 {
			snaps = snaps[1:]
		}
		return s, nil
	}
}

func TestFreerCarriesOutInOrder(t *testing.T) {
	nginx := frProc(1201, 1, "nginx", "systemd")
	held := frSnapshot(frListener("0.0.0.0:80", 10, frHolders(nginx), model.Attribution{Kind: model.AttrUnit, PID: 1201, Name: "nginx.service", Manager: "system"}))
	facts := FreeFacts{Units: map[string]SystemdUnit{UnitKey("system", "nginx.service"): {Name: "nginx.service", MainPID: 1201, UnitFileState: "enabled"}}}
	plan := func() []Plan { return []Plan{PlanFree(held, frTarget(t, "80"), facts, PlanOptions{})} }

	t.Run("unit, then what survived it; freed", func(t *testing.T) {
		sys := &frFakeOS{openErr: map[int]error{1201: errFreeGone}}
		f := &Freer{Collect: frCollect(frSnapshot()), sys: sys, Settle: time.Nanosecond, Timeout: time.Minute}
		rs, err := f.Free(context.Background(), plan())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"stop nginx.service", "open 1201"}, sys.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if rs[0].State != Freed || len(rs[0].Done) != 2 || !strings.Contains(rs[0].Done[1].Text, "exited with nginx.service") {
			t.Errorf("result = %+v; want freed, the process gone with its unit", rs[0])
		}
	})
	t.Run("a failed unit stop ends the plan", func(t *testing.T) {
		sys := &frFakeOS{stopErr: errors.New("systemctl stop nginx.service: exit status 1: Access denied")}
		f := &Freer{Collect: frCollect(frSnapshot()), sys: sys, Timeout: time.Minute}
		rs, _ := f.Free(context.Background(), plan())
		if diff := cmp.Diff([]string{"stop nginx.service"}, sys.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if rs[0].State != Failed || rs[0].Done[0].OK {
			t.Errorf("result = %+v; want failed", rs[0])
		}
	})
}

func TestFreerSignals(t *testing.T) {
	dev := frProc(4242, 4100, "server", "respawn")
	held := frSnapshot(frListener("127.0.0.1:8000", 10, frHolders(dev)))
	free := frSnapshot()
	tests := []struct {
		name    string
		sys     *frFakeOS
		force   bool
		collect []*model.Snapshot
		calls   []string
		state   FreeState
		done    string
	}{
		{"exits on SIGTERM", &frFakeOS{exits: map[int]bool{4242: true}}, false, []*model.Snapshot{free},
			[]string{"open 4242", "SIGTERM 4242"}, Freed, "exited"},
		{"ignores SIGTERM, not forced", &frFakeOS{}, false, []*model.Snapshot{held},
			[]string{"open 4242", "SIGTERM 4242"}, StillHeld, "--force would SIGKILL it"},
		{"ignores SIGTERM, forced", &frFakeOS{killable: true}, true, []*model.Snapshot{free},
			[]string{"open 4242", "SIGTERM 4242", "SIGKILL 4242"}, Freed, "SIGKILL"},
		{"PID reused: nothing signalled", &frFakeOS{openErr: map[int]error{4242: fmt.Errorf("pid 4242 is now bash: %w", errFreeReused)}}, false, []*model.Snapshot{free},
			[]string{"open 4242"}, Freed, "not signalled"},
		{"not allowed", &frFakeOS{openErr: map[int]error{4242: errors.New("operation not permitted")}}, false, []*model.Snapshot{held},
			[]string{"open 4242"}, Failed, "not signalled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Freer{Collect: frCollect(tt.collect...), sys: tt.sys, Force: tt.force, Settle: time.Nanosecond, Timeout: time.Nanosecond}
			p := PlanFree(held, frTarget(t, "8000"), FreeFacts{}, PlanOptions{Force: tt.force})
			rs, err := f.Free(context.Background(), []Plan{p})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.calls, tt.sys.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			r := rs[0]
			if r.State != tt.state || len(r.Done) == 0 || !strings.Contains(r.Done[len(r.Done)-1].Text, tt.done) {
				t.Errorf("result = %+v; want %s, last step result containing %q", r, tt.state, tt.done)
			}
		})
	}
}

func TestFreerSeesTheOwnerComeBack(t *testing.T) {
	dev := frProc(4242, 4100, "server", "respawn")
	again := frProc(4300, 4100, "server", "respawn")
	held := frSnapshot(frListener("127.0.0.1:8000", 10, frHolders(dev)))
	back := frSnapshot(frListener("127.0.0.1:8000", 11, frHolders(again)))
	tests := []struct {
		name    string
		collect []*model.Snapshot
		kids    map[int][]freeChild
	}{
		{"never seen free: a new socket", []*model.Snapshot{back}, nil},
		{"free for a moment, then taken", []*model.Snapshot{frSnapshot(), back}, nil},
		{"free while the parent's new child starts", []*model.Snapshot{frSnapshot(), frSnapshot(), frSnapshot(), back},
			map[int][]freeChild{4100: {{PID: 4300, Name: "server", StartTicks: again.StartTicks}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &frFakeOS{exits: map[int]bool{4242: true}, kidsAfter: tt.kids}
			f := &Freer{Collect: frCollect(tt.collect...), sys: sys, Settle: time.Nanosecond, Timeout: time.Minute}
			rs, err := f.Free(context.Background(), []Plan{PlanFree(held, frTarget(t, "8000"), FreeFacts{}, PlanOptions{})})
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.State != StillHeld || len(r.CameBack) != 1 || r.CameBack[0].By != "parent" || r.CameBack[0].PID != 4100 {
				t.Errorf("result = %+v; want still held, respawned by its parent 4100", r)
			}
			if !slices.ContainsFunc(r.HeldBy, func(h HeldSocket) bool { return len(h.Holders) == 1 && h.Holders[0].PID == 4300 }) {
				t.Errorf("held by = %+v; want pid 4300", r.HeldBy)
			}
		})
	}
}

// TestFreerIgnoresSiblings: a child the parent had before free signalled
// (a client it started, a second server) is no respawn to wait for.
func TestFreerIgnoresSiblings(t *testing.T) {
	dev := frProc(4242, 4100, "server", "respawn")
	held := frSnapshot(frListener("127.0.0.1:8000", 10, frHolders(dev)))
	sibling := []freeChild{{PID: 4250, Name: "server", StartTicks: 5250}}
	sys := &frFakeOS{exits: map[int]bool{4242: true}, kids: map[int][]freeChild{4100: sibling}, kidsAfter: map[int][]freeChild{4100: sibling}}
	f := &Freer{Collect: frCollect(frSnapshot()), sys: sys, Settle: time.Nanosecond, Timeout: time.Hour}
	rs, err := f.Free(context.Background(), []Plan{PlanFree(held, frTarget(t, "8000"), FreeFacts{}, PlanOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].State != Freed || len(rs[0].Notes) != 0 {
		t.Errorf("result = %+v; want freed, no respawn noted", rs[0])
	}
}
