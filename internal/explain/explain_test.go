package explain

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
)

var (
	linuxHost   = &model.Host{OS: kb.Linux, UnprivilegedPortStart: 1024}
	windowsHost = &model.Host{OS: kb.Windows}
)

func sock(proto model.Proto, local string, holders ...model.Holder) *model.Socket {
	st := model.Listen
	if proto == model.UDP {
		st = model.Close
	}
	return &model.Socket{Proto: proto, Local: netip.MustParseAddrPort(local), State: st, Inode: 1, Holders: holders}
}

func holder(pid int, name string, argv ...string) model.Holder {
	return model.Holder{PID: pid, FDs: []int{3}, Process: &model.Process{PID: pid, Name: name, Cmdline: argv}}
}

func with(s *model.Socket, as ...model.Attribution) *model.Socket {
	s.Attributions = as
	return s
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		host *model.Host
		sock *model.Socket
		// Checks; empty strings are not checked.
		title, anomaly, firstCommand, firstText, never, risk, privileged string
		noAnomaly                                                        bool
	}{
		{
			name: "nginx in its unit",
			host: linuxHost,
			sock: with(sock(model.TCP, "0.0.0.0:80", holder(1201, "nginx")),
				model.Attribution{Kind: model.AttrUnit, PID: 1201, Name: "nginx.service", Manager: "system"}),
			title: "HTTP", noAnomaly: true, firstCommand: "sudo systemctl disable --now nginx.service", privileged: "port 80 is privileged",
		},
		{
			name:         "an unexpected program on the ssh port",
			host:         linuxHost,
			sock:         sock(model.TCP, "0.0.0.0:22", holder(4242, "nc", "nc", "-l", "22")),
			anomaly:      "22 is normally held by sshd",
			firstCommand: "kill -TERM 4242",
		},
		{
			name: "ssh socket activation by PID 1",
			host: linuxHost,
			sock: with(sock(model.TCP, "[::]:22", holder(1, "systemd", "/sbin/init")),
				model.Attribution{Kind: model.AttrSocketActivation, PID: 1, Manager: "systemd", Name: "ssh.socket", Service: "ssh.service"}),
			noAnomaly: true, firstCommand: "sudo systemctl disable --now ssh.socket ssh.service", never: "never kill PID 1",
		},
		{
			name: "vxlan device",
			host: linuxHost,
			sock: with(sock(model.UDP, "0.0.0.0:4789"),
				model.Attribution{Kind: model.AttrKernel, Name: "vxlan0", Manager: "vxlan"}),
			firstCommand: "sudo ip link set vxlan0 down",
		},
		{
			name: "redis on loopback",
			host: linuxHost,
			sock: sock(model.TCP, "127.0.0.1:6379", holder(900, "redis-server")),
			risk: kb.RiskInfo,
		},
		{
			name: "docker-proxy",
			host: linuxHost,
			sock: with(sock(model.TCP, "0.0.0.0:8080", holder(3001, "docker-proxy")),
				model.Attribution{Kind: model.AttrForwarder, PID: 3001, Manager: "docker-proxy", Name: "web"},
				model.Attribution{Kind: model.AttrUnit, PID: 3001, Name: "docker.service", Manager: "system"}),
			firstCommand: "docker stop web",
		},
		{
			name: "seed: PID 4 on port 80 for the Web Deployment Agent Service",
			host: windowsHost,
			sock: with(sock(model.TCP, "0.0.0.0:80", holder(4, "System")),
				model.Attribution{Kind: model.AttrHTTPSys, PID: 4, Name: "http://+:80/MSDEPLOYAGENTSERVICE/", Service: "MsDepSvc"}),
			title: "HTTP", noAnomaly: true, firstCommand: "sc stop MsDepSvc && sc config MsDepSvc start= demand", never: "never end PID 4",
		},
		{
			name: "seed: svchost hosting TermService on 3389",
			host: windowsHost,
			sock: with(sock(model.TCP, "0.0.0.0:3389", holder(1192, "svchost.exe")),
				model.Attribution{Kind: model.AttrService, PID: 1192, Name: "TermService", Detail: "Remote Desktop Services"}),
			noAnomaly: true, firstCommand: "sc stop TermService && sc config TermService start= demand", never: "never end svchost.exe", risk: kb.RiskHigh,
		},
		{
			name: "seed: lsass with PolicyAgent on 500/udp",
			host: windowsHost,
			sock: with(sock(model.UDP, "0.0.0.0:500", holder(888, "lsass.exe")),
				model.Attribution{Kind: model.AttrService, PID: 888, Name: "PolicyAgent", Detail: "IPsec Policy Agent"}),
			noAnomaly: true, never: "never end lsass.exe",
		},
		{
			name:      "seed: System on 445",
			host:      windowsHost,
			sock:      sock(model.TCP, "0.0.0.0:445", holder(4, "System")),
			noAnomaly: true, never: "never end PID 4", risk: kb.RiskHigh,
		},
		{
			name: "svchost hosting several services, no service tag",
			host: windowsHost,
			sock: with(sock(model.TCP, "0.0.0.0:5357", holder(1192, "svchost.exe")),
				model.Attribution{Kind: model.AttrService, PID: 1192, Name: "FDResPub", Ambiguous: true},
				model.Attribution{Kind: model.AttrService, PID: 1192, Name: "SSDPSRV", Ambiguous: true}),
			firstText: "it is one of the services FDResPub, SSDPSRV in PID 1192", never: "never end svchost.exe",
		},
		{
			name:    "445 held by a user program",
			host:    windowsHost,
			sock:    sock(model.TCP, "0.0.0.0:445", holder(5120, "python.exe")),
			anomaly: "445 is normally held by System",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Explain(tt.sock, tt.host)
			if tt.title != "" && f.Title != tt.title {
				t.Errorf("Title = %q; want %q", f.Title, tt.title)
			}
			if tt.anomaly != "" && !strings.Contains(f.Anomaly, tt.anomaly) {
				t.Errorf("Anomaly = %q; want it to contain %q", f.Anomaly, tt.anomaly)
			}
			if tt.noAnomaly && f.Anomaly != "" {
				t.Errorf("Anomaly = %q; want none", f.Anomaly)
			}
			if tt.firstCommand != "" && (len(f.Remedies) == 0 || f.Remedies[0].Command != tt.firstCommand) {
				t.Errorf("Remedies = %+v; want the first to be %q", f.Remedies, tt.firstCommand)
			}
			if tt.firstText != "" && (len(f.Remedies) == 0 || !strings.HasPrefix(f.Remedies[0].Text, tt.firstText)) {
				t.Errorf("Remedies = %+v; want the first to start %q", f.Remedies, tt.firstText)
			}
			if tt.never != "" && !strings.Contains(f.Never, tt.never) {
				t.Errorf("Never = %q; want it to contain %q", f.Never, tt.never)
			}
			if tt.risk != "" && f.Risk.Level != tt.risk {
				t.Errorf("Risk = %+v; want level %s", f.Risk, tt.risk)
			}
			if tt.privileged != "" && !strings.Contains(f.Privileged, tt.privileged) {
				t.Errorf("Privileged = %q; want it to contain %q", f.Privileged, tt.privileged)
			}
			// Whatever the case, no remedy ends PID 1, PID 4, a critical
			// process or a shared svchost (the holders of these cases).
			forbidden := []string{"kill -TERM 1 ", "kill -TERM 4 ", "/PID 4 ", "/PID 888 ", "/PID 1192 "}
			for _, r := range f.Remedies {
				for _, bad := range forbidden {
					if strings.Contains(r.Command+" ", bad) {
						t.Errorf("remedy %q ends a process that must not be ended", r.Command)
					}
				}
			}
		})
	}
}

func TestAudit(t *testing.T) {
	snap := &model.Snapshot{Host: *linuxHost, Sockets: []model.Socket{
		*sock(model.TCP, "127.0.0.1:6379", holder(900, "redis-server")),
		*sock(model.TCP, "0.0.0.0:6379", holder(901, "redis-server")),
		*sock(model.TCP, "0.0.0.0:22", holder(700, "sshd")),
		*sock(model.TCP, "0.0.0.0:8000", holder(702, "python3")),
	}}
	snap.Sockets = append(snap.Sockets, model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:5555"), State: model.Established})
	fs := Audit(snap, nil)
	if len(fs) != 3 {
		t.Fatalf("Audit = %d findings; want the 3 listeners beyond loopback", len(fs))
	}
	for i := 1; i < len(fs); i++ {
		if SeverityRank(fs[i].Severity) > SeverityRank(fs[i-1].Severity) {
			t.Errorf("findings not ordered by severity: %s after %s", fs[i].Severity, fs[i-1].Severity)
		}
	}
	if fs[0].Socket.Local.Port() != 6379 || fs[0].Severity != kb.RiskHigh || fs[0].Firewall != nil {
		t.Errorf("first finding = %s %s; want redis on 0.0.0.0:6379, high, firewall not checked", fs[0].Socket.Local, fs[0].Severity)
	}
	dropped := Audit(snap, func(s *model.Socket) model.FirewallVerdict {
		if s.Local.Port() == 6379 {
			return model.FirewallVerdict{Verdict: "drop", Rule: "inet filter input: tcp dport 6379 drop", Source: "nftables"}
		}
		return model.FirewallVerdict{Verdict: "accept", Reason: "policy accept"}
	})
	for _, f := range dropped {
		if f.Socket.Local.Port() == 6379 && (f.Severity != kb.RiskInfo || !strings.Contains(f.Reason, "firewall drops")) {
			t.Errorf("dropped redis finding = %s %q; want info, saying the firewall drops it", f.Severity, f.Reason)
		}
	}
}
