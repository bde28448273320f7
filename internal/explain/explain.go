package explain

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
)

// Finding is what the explain stage says about one socket.
type Finding struct {
	// Service is the IANA service name of the port, if any ("http").
	Service string
	// Title and Purpose say what the port is for, from the curated
	// knowledge base, or the IANA description when that is all there is.
	Title, Purpose string
	// Expected are the owners the knowledge base expects on this OS.
	Expected []kb.Owner
	// Anomaly says why the holder is not the expected one; empty when it
	// is, or when nothing specific is expected.
	Anomaly string
	// Exposure says who can reach the socket.
	Exposure Exposure
	// Privileged notes that the port needs privileges to bind.
	Privileged string
	// Risk is the knowledge base's risk of exposing the port, lowered to
	// info when only this host can reach it.
	Risk kb.Risk
	// Remedies are the ways to free or close the port, most lasting first:
	// those that follow from the attribution, then the knowledge base's.
	Remedies []Remedy
	// Never warns against the tempting wrong remedy ("never end PID 4").
	Never string
	// Sources back the knowledge.
	Sources []string
}

// Remedy is one way to free or close a port.
type Remedy struct {
	// Kind is one of kb's remedy kinds ("unit", "service", "config", ...).
	Kind string
	// Text says what to do and why; Command, when set, does it.
	Text    string
	Command string
}

// Explain derives the finding for one socket of a host. It is pure: the
// knowledge base is embedded data, and everything about the host comes in
// through the arguments.
func Explain(s *model.Socket, host *model.Host) Finding {
	os := host.OS
	proto := s.Proto.String()
	port := s.Local.Port()
	f := Finding{Exposure: ExposureOf(s)}
	if svc, ok := kb.IANA(proto, port); ok {
		f.Service = svc.Name
		f.Title = svc.Description
	}
	e, known := kb.Lookup(proto, port)
	if known {
		f.Title, f.Purpose = e.Title, e.Purpose
		f.Expected = expectedOn(e, os, s)
		f.Risk = e.Risk
		f.Sources = e.Sources
		f.Anomaly = anomaly(e, f.Expected, s, os)
	}
	if f.Risk.Level == "" {
		f.Risk = kb.Risk{Level: kb.RiskLow, Text: "no knowledge of this port: whatever listens decides the risk"}
	}
	if f.Exposure.Scope == ScopeLoopback {
		f.Risk = kb.Risk{Level: kb.RiskInfo, Text: "only this host can reach it (loopback)"}
	}
	if start := host.UnprivilegedPortStart; os == kb.Linux && start > 0 && int(port) < start {
		f.Privileged = fmt.Sprintf("port %d is privileged (below net.ipv4.ip_unprivileged_port_start = %d): binding it needs root or CAP_NET_BIND_SERVICE", port, start)
	}
	f.Remedies, f.Never = remedies(s, os, e)
	return f
}

// expectedOn returns the entry's owners on os that apply to the socket's
// address (an owner tied to 127.0.0.53 does not apply to 0.0.0.0).
func expectedOn(e *kb.Entry, os string, s *model.Socket) []kb.Owner {
	var out []kb.Owner
	for _, o := range e.OwnersOn(os) {
		if o.Addr != "" && o.Addr != s.Local.Addr().Unmap().String() {
			continue
		}
		out = append(out, o)
	}
	return out
}

// anomaly compares the holders with the expected owners. Only ports whose
// expected owners are system services or drivers are judged: many
// programs may rightly hold a developer port such as 8080.
func anomaly(e *kb.Entry, expected []kb.Owner, s *model.Socket, os string) string {
	if len(expected) == 0 || len(s.Holders) == 0 {
		return ""
	}
	system := false
	var procs []string
	for _, o := range expected {
		if o.Service != "" || o.Driver != "" {
			system = true
		}
		if o.Process != "" && !slices.Contains(procs, o.Process) {
			procs = append(procs, o.Process)
		}
	}
	// Judge only ports that a few system services own: many programs
	// rightly hold 80 or 8080.
	if !system || len(procs) > 3 {
		return ""
	}
	for _, o := range expected {
		if matches(o, s) {
			return ""
		}
	}
	var holders []string
	for _, h := range s.Holders {
		if h.Process != nil {
			holders = append(holders, fmt.Sprintf("%s (pid %d)", h.Process.Name, h.PID))
		}
	}
	return fmt.Sprintf("%s/%d is normally held by %s; here %s holds it", s.Proto, s.Local.Port(), describeOwners(expected), strings.Join(holders, ", "))
}

// matches reports whether a holder or an attribution of s is the owner o.
func matches(o kb.Owner, s *model.Socket) bool {
	for _, h := range s.Holders {
		p := h.Process
		if p == nil {
			continue
		}
		if o.Process != "" && (strings.EqualFold(o.Process, p.Name) || (p.Exe != "" && strings.EqualFold(o.Process, filepath.Base(p.Exe))) ||
			(len(p.Cmdline) > 0 && strings.EqualFold(o.Process, filepath.Base(p.Cmdline[0])))) {
			return true
		}
	}
	for _, a := range s.Attributions {
		switch a.Kind {
		case model.AttrUnit, model.AttrService:
			if o.Service != "" && strings.EqualFold(o.Service, a.Name) {
				return true
			}
		case model.AttrSocketActivation:
			if o.Service != "" && (strings.EqualFold(o.Service, a.Service) || strings.EqualFold(o.Service, a.Name)) {
				return true
			}
		case model.AttrKernel, model.AttrHTTPSys:
			if o.Driver != "" && (strings.EqualFold(o.Driver, a.Manager) || a.Kind == model.AttrHTTPSys && strings.EqualFold(o.Driver, "http.sys")) {
				return true
			}
		}
	}
	return false
}

// describeOwners is "sshd (ssh.service, sshd.service) or systemd (ssh.socket)".
func describeOwners(owners []kb.Owner) string {
	var order []string
	what := map[string][]string{}
	for _, o := range owners {
		who := o.Process
		if who == "" {
			who = o.Driver
		}
		if _, ok := what[who]; !ok {
			order = append(order, who)
		}
		for _, x := range []string{o.Service, o.Driver} {
			if x != "" && x != who && !slices.Contains(what[who], x) {
				what[who] = append(what[who], x)
			}
		}
	}
	parts := make([]string, len(order))
	for i, who := range order {
		parts[i] = who
		if len(what[who]) > 0 {
			parts[i] += " (" + strings.Join(what[who], ", ") + ")"
		}
	}
	return strings.Join(parts, " or ")
}

// remedies orders what frees the port for good: first what follows from
// the attribution (the socket unit, the unit, the container, the device,
// the service that registered an http.sys URL), then the knowledge base's
// remedies for this OS, then rebinding and the firewall. It never proposes
// ending PID 1, PID 4 or a kernel thread; Never says why.
func remedies(s *model.Socket, os string, e *kb.Entry) (out []Remedy, never string) {
	add := func(r Remedy) {
		same := func(x Remedy) bool {
			return x.Command != "" && strings.TrimPrefix(x.Command, "sudo ") == strings.TrimPrefix(r.Command, "sudo ")
		}
		if !slices.ContainsFunc(out, same) {
			out = append(out, r)
		}
	}
	port := strconv.Itoa(int(s.Local.Port()))
	// A forwarder runs in its container engine's unit: stopping that unit
	// would stop every container, so the container is the thing to stop.
	forwarded := slices.ContainsFunc(s.Attributions, func(a model.Attribution) bool { return a.Kind == model.AttrForwarder })
	for _, a := range s.Attributions {
		switch a.Kind {
		case model.AttrSocketActivation:
			switch {
			case a.Manager == "systemd" && a.Name != "":
				add(Remedy{Kind: kb.RemedyUnit, Text: "stop and disable the socket unit and the service it starts; stopping only the service leaves systemd listening",
					Command: "sudo systemctl disable --now " + a.Name + " " + a.Service})
			case strings.HasPrefix(a.Manager, "systemd user@") && a.Name != "":
				add(Remedy{Kind: kb.RemedyUnit, Text: "stop and disable the user's socket unit (as that user)",
					Command: "systemctl --user disable --now " + a.Name + " " + a.Service})
			case a.Manager == "systemd-socket-activate":
				add(Remedy{Kind: kb.RemedyOther, Text: fmt.Sprintf("stop systemd-socket-activate (pid %d): it holds the port for `%s`", a.PID, a.Service),
					Command: "kill " + strconv.Itoa(a.PID)})
			}
		case model.AttrUnit:
			switch {
			case forwarded:
			case a.Manager == "system":
				add(Remedy{Kind: kb.RemedyUnit, Text: "stop the unit and keep it from starting at boot; killing its process would be undone if the unit restarts it",
					Command: "sudo systemctl disable --now " + a.Name})
			case a.Manager != "":
				add(Remedy{Kind: kb.RemedyUnit, Text: "stop the user unit (as " + a.Manager + ")",
					Command: "systemctl --user disable --now " + a.Name})
			}
		case model.AttrContainer, model.AttrForwarder:
			engine := a.Manager
			if a.Kind == model.AttrForwarder {
				engine = map[string]string{"docker-proxy": "docker", "pasta": "podman", "slirp4netns": "podman", "rootlessport": "podman"}[a.Manager]
			}
			switch {
			case a.Name != "" && (engine == "docker" || engine == "podman"):
				add(Remedy{Kind: kb.RemedyOther, Text: "stop the container, or publish its port on 127.0.0.1 only (-p 127.0.0.1:" + port + ":...)",
					Command: engine + " stop " + a.Name})
			case a.Kind == model.AttrForwarder:
				add(Remedy{Kind: kb.RemedyOther, Text: "stop the container that " + a.Manager + " forwards this port to"})
			}
		case model.AttrKernel:
			switch a.Manager {
			case "vxlan", "geneve", "bareudp", "wireguard":
				add(Remedy{Kind: kb.RemedyOther, Text: "the " + a.Manager + " device holds it: take the device down, or remove it if nothing uses it",
					Command: "sudo ip link set " + a.Name + " down"})
			case "nfsd":
				add(Remedy{Kind: kb.RemedyUnit, Text: "stop the NFS server", Command: "sudo systemctl disable --now nfs-server.service"})
			}
		case model.AttrService:
			if !a.Ambiguous {
				add(Remedy{Kind: kb.RemedyService, Text: "stop the service " + a.Name + " and set it to manual start; ending its host process would stop the other services it runs",
					Command: "sc stop " + a.Name + " && sc config " + a.Name + " start= demand"})
			} else if cands := candidates(s.Attributions, a.PID); cands[0] == a.Name {
				add(Remedy{Kind: kb.RemedyService, Text: fmt.Sprintf("it is one of the services %s in PID %d: find the one that opened the port (running as administrator names it), then stop that service, not the process",
					strings.Join(cands, ", "), a.PID)})
			}
		case model.AttrHTTPSys:
			if a.Service != "" {
				add(Remedy{Kind: kb.RemedyService, Text: "stop the service that registered " + a.Name + " with http.sys",
					Command: "sc stop " + a.Service + " && sc config " + a.Service + " start= demand"})
			}
			add(Remedy{Kind: kb.RemedyConfig, Text: "keep http.sys off other addresses: it then listens only on those in its iplisten list",
				Command: "netsh http add iplisten ipaddress=127.0.0.1"})
		}
	}
	specific := len(out) > 0 // the attribution named what to stop
	if !specific {
		// Nothing supervises the holders that we know of: ending them
		// frees the port (the parent chain shows who might restart them).
		var pids []string
		for _, h := range s.Holders {
			if endable(h, os) {
				pids = append(pids, strconv.Itoa(h.PID))
			}
		}
		if len(pids) > 0 {
			r := Remedy{Kind: kb.RemedyOther, Text: "end the process that holds it, gracefully", Command: "kill -TERM " + strings.Join(pids, " ")}
			if os == kb.Windows {
				r.Command = "taskkill /PID " + strings.Join(pids, " /PID ")
			}
			add(r)
		}
	}
	// The knowledge base's remedies are written for the port in general:
	// once the real unit or container is known, its guesses at units are
	// noise, and its "never" advice is what Never says.
	kbFirewall := false
	if e != nil {
		for _, r := range e.RemediesOn(os) {
			if strings.HasPrefix(strings.ToLower(r.Text), "never ") || (specific && (r.Kind == kb.RemedyUnit || r.Kind == kb.RemedyService)) {
				continue
			}
			kbFirewall = kbFirewall || r.Kind == kb.RemedyFirewall
			add(Remedy{Kind: r.Kind, Text: strings.TrimRight(r.Text, ".:"), Command: r.Command})
		}
	}
	exposed := ExposureOf(s).Scope != ScopeLoopback
	if exposed && os != kb.Windows && !slices.ContainsFunc(out, func(r Remedy) bool { return r.Kind == kb.RemedyConfig }) && len(s.Holders) > 0 {
		add(Remedy{Kind: kb.RemedyConfig, Text: "if only this host needs it, configure the program to listen on 127.0.0.1 (or ::1) instead of " + s.Local.Addr().String()})
	}
	if exposed && !kbFirewall {
		switch os {
		case kb.Linux:
			add(Remedy{Kind: kb.RemedyFirewall, Text: "keep it for this host, but drop traffic from other hosts (needs an nftables inet filter table with an input chain)",
				Command: fmt.Sprintf("sudo nft add rule inet filter input %s dport %s iif != lo drop", s.Proto, port)})
		case kb.Windows:
			add(Remedy{Kind: kb.RemedyFirewall, Text: "keep it for this host, but block traffic from other hosts",
				Command: fmt.Sprintf("netsh advfirewall firewall add rule name=\"whobinds block %s/%s\" dir=in action=block protocol=%s localport=%s", s.Proto, port, strings.ToUpper(s.Proto.String()), port)})
		}
	}
	never = neverFor(s, os)
	return out, never
}

// candidates are the names of the ambiguous services of one holder.
func candidates(as []model.Attribution, pid int) []string {
	var out []string
	for _, a := range as {
		if a.Kind == model.AttrService && a.Ambiguous && a.PID == pid {
			out = append(out, a.Name)
		}
	}
	return out
}

// neverFor warns against ending a process that must not be ended.
func neverFor(s *model.Socket, os string) string {
	for _, h := range s.Holders {
		switch {
		case os == kb.Windows && h.PID == 4:
			return "never end PID 4 (System): it is the kernel; stop the service behind the port instead"
		case h.PID == 1:
			return "never kill PID 1 (init): stop the unit or socket unit instead"
		case os == kb.Windows && h.Process != nil && isCritical(h.Process.Name):
			return "never end " + h.Process.Name + ": Windows stops or restarts without it; stop the service instead"
		case os == kb.Windows && h.Process != nil && strings.EqualFold(h.Process.Name, "svchost.exe"):
			return "never end svchost.exe: it hosts other services; stop the one service instead"
		}
	}
	return ""
}

// endable reports whether ending a holder is an acceptable remedy: not
// PID 1, not the Windows kernel or a critical or shared host process.
func endable(h model.Holder, os string) bool {
	if h.PID <= 1 || h.Process == nil {
		return false
	}
	if os == kb.Windows && (h.PID == 4 || isCritical(h.Process.Name) || strings.EqualFold(h.Process.Name, "svchost.exe")) {
		return false
	}
	return true
}

// isCritical reports whether a Windows process is one that must not be
// ended (Windows bugchecks or logs everyone off).
func isCritical(name string) bool {
	switch strings.ToLower(name) {
	case "smss.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe", "winlogon.exe", "system":
		return true
	}
	return false
}
