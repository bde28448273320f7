package containers

// This file recognises the user-space port forwarders that container
// engines start, from their command lines: docker-proxy (docker's userland
// proxy), rootlessport (rootless podman), slirp4netns and pasta (from the
// passt project, also used by rootless podman 5). They hold the host's
// listening socket for a port that really belongs to a container.

import (
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
)

// Forward is one port forward, or a range of them, that a forwarder
// process performs.
type Forward struct {
	// Kind is the forwarder: "docker-proxy", "rootlessport",
	// "slirp4netns", "pasta", or "passt" (pasta's sibling for virtual
	// machines).
	Kind string
	// Proto is the forwarded protocol; 0 when the command line does not
	// say (slirp4netns and rootlessport get their ports over a socket).
	Proto model.Proto
	// HostAddr is the host address the forwarder listens on, as its command
	// line gives it (docker-proxy: 0.0.0.0 or ::, one proxy per family); the
	// zero Addr when the command line names none (pasta: every address,
	// IPv4 and IPv6).
	HostAddr netip.Addr
	// HostPort and HostPortEnd are the first and last host port forwarded
	// (equal for a single port); both 0 when the command line does not say.
	HostPort, HostPortEnd uint16
	// Target is the container address and the port HostPort goes to. Its
	// Addr is the zero Addr when not known (pasta forwards to the
	// namespace's own address, which its command line does not name); its
	// Port is 0 when not known. Use Maps for ports other than HostPort.
	Target netip.AddrPort
	// Interface limits a pasta forward to one host interface ("%eth0").
	Interface string
	// Auto is true for pasta's "auto" and "all" modes and for specs that
	// only exclude ports: the forwarder binds whichever ports in the range
	// it decides to at run time (for "auto", those bound on the other
	// side), each to the same port number, so a port it holds is forwarded
	// but a port in the range is not necessarily held.
	Auto bool
	// FromNS is true for pasta's -T/-U forwards, which run the other way:
	// pasta listens inside the namespace and forwards to the host's port.
	FromNS bool
	// NetNSPath is the network namespace the traffic goes to, when the
	// command line names it by path (podman passes /run/user/UID/netns/...
	// or /run/netns/...).
	NetNSPath string
	// TargetPID is a process in the target network namespace, when the
	// command line names it by PID. For pasta started with a command
	// instead, the namespace is that of pasta's child, and this is 0.
	TargetPID int
}

// Maps reports whether the forward carries host port port of protocol
// proto, and to which port in the container. Forwards whose ports the
// command line does not show (slirp4netns, rootlessport) never match.
func (f Forward) Maps(proto model.Proto, port uint16) (target uint16, ok bool) {
	if f.Proto == 0 || f.Proto != proto || f.HostPort == 0 || port < f.HostPort || port > f.HostPortEnd {
		return 0, false
	}
	if f.Target.Port() == 0 {
		return 0, false
	}
	return f.Target.Port() + (port - f.HostPort), true
}

// ParseForwarder recognises a port forwarder from its short name (comm, as
// in /proc/PID/comm) and command line, and returns what the command line
// says it forwards. ok is false for processes that are not forwarders. A
// forwarder whose command line names no ports (slirp4netns, rootlessport,
// a docker-proxy with arguments it cannot read) returns one Forward with
// only Kind and what is known about the target.
//
// pasta is recognised by argv[0] ("pasta", "pasta.avx2"): its comm is the
// binary's ("passt.avx2"), because pasta is a symlink to passt.
func ParseForwarder(comm string, argv []string) ([]Forward, bool) {
	var arg0 string
	if len(argv) > 0 {
		arg0 = path.Base(argv[0])
	}
	switch {
	case arg0 == "docker-proxy" || comm == "docker-proxy":
		return []Forward{parseDockerProxy(argv)}, true
	case arg0 == "rootlessport" || comm == "rootlessport":
		return []Forward{{Kind: "rootlessport"}}, true
	case arg0 == "slirp4netns" || comm == "slirp4netns":
		return []Forward{parseSlirp4netns(argv)}, true
	case strings.HasPrefix(arg0, "pasta") || arg0 == "" && strings.HasPrefix(comm, "pasta"):
		return parsePasta("pasta", argv), true
	case strings.HasPrefix(arg0, "passt") || arg0 == "" && strings.HasPrefix(comm, "passt"):
		return parsePasta("passt", argv), true
	}
	return nil, false
}

// parseDockerProxy reads docker-proxy's flags (Go flag syntax: -f v,
// -f=v, --f v, --f=v):
//
//	docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080
//	    -container-ip 172.17.0.2 -container-port 80 [-use-listen-fd]
func parseDockerProxy(argv []string) Forward {
	f := Forward{Kind: "docker-proxy"}
	var cAddr netip.Addr
	var cPort uint16
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name := strings.TrimLeft(a, "-")
		name, val, hasVal := strings.Cut(name, "=")
		switch name {
		case "proto", "host-ip", "host-port", "container-ip", "container-port":
		default:
			continue // boolean flags such as -use-listen-fd, or unknown ones
		}
		if !hasVal {
			if i+1 >= len(argv) {
				break
			}
			i++
			val = argv[i]
		}
		switch name {
		case "proto":
			f.Proto = parseProto(val)
		case "host-ip":
			if a, err := netip.ParseAddr(val); err == nil {
				f.HostAddr = a
			}
		case "host-port":
			f.HostPort = parsePort(val)
			f.HostPortEnd = f.HostPort
		case "container-ip":
			if a, err := netip.ParseAddr(val); err == nil {
				cAddr = a
			}
		case "container-port":
			cPort = parsePort(val)
		}
	}
	f.Target = netip.AddrPortFrom(cAddr, cPort)
	return f
}

// slirp4netnsArgOpts are slirp4netns's options that take an argument
// (slirp4netns --help, version 1.2).
var slirp4netnsArgOpts = map[string]bool{
	"e": true, "r": true, "m": true, "a": true,
	"exit-fd": true, "ready-fd": true, "mtu": true, "api-socket": true,
	"cidr": true, "netns-type": true, "userns-path": true,
	"outbound-addr": true, "outbound-addr6": true, "macaddress": true,
	"target-type": true,
}

// parseSlirp4netns reads "slirp4netns [OPTION]... PID|PATH [TAPNAME]". Its
// port forwards are added later over its API socket, so only the target
// namespace is known.
func parseSlirp4netns(argv []string) Forward {
	f := Forward{Kind: "slirp4netns"}
	opts, rest := getopt(argv, slirp4netnsArgOpts, true)
	nsType, target := "pid", "netns"
	for _, o := range opts {
		switch o.name {
		case "netns-type":
			nsType = o.value
		case "target-type":
			target = o.value
		}
	}
	if target != "netns" || len(rest) == 0 {
		return f
	}
	if nsType == "path" {
		f.NetNSPath = rest[0]
	} else if pid, err := strconv.Atoi(rest[0]); err == nil && pid > 0 {
		f.TargetPID = pid
	}
	return f
}

// pastaArgOpts are pasta's and passt's options that take an argument
// (passt conf.c, 2023 to 2025 releases).
var pastaArgOpts = map[string]bool{
	"l": true, "F": true, "I": true, "p": true, "P": true, "m": true,
	"a": true, "n": true, "M": true, "g": true, "i": true, "o": true,
	"D": true, "S": true, "H": true, "s": true, "t": true, "u": true,
	"T": true, "U": true,
	"log-file": true, "log-size": true, "runas": true, "socket": true,
	"socket-path": true, "fd": true, "ns-ifname": true, "pcap": true,
	"pid": true, "mtu": true, "address": true, "netmask": true,
	"mac-addr": true, "gateway": true, "interface": true, "outbound": true,
	"outbound-if4": true, "outbound-if6": true, "dns": true, "search": true,
	"dns-forward": true, "dns-host": true, "tcp-ports": true,
	"udp-ports": true, "tcp-ns": true, "udp-ns": true, "userns": true,
	"netns": true, "nsrun-dir": true, "ns-mac-addr": true,
	"map-host-loopback": true, "map-guest-addr": true, "hostname": true,
	"fqdn": true, "repair-path": true, "stats": true,
}

// parsePasta reads pasta's (or passt's) port forwarding options and target
// namespace:
//
//	pasta [OPTION]... [COMMAND [ARG]...]
//	pasta [OPTION]... PID
//	pasta [OPTION]... --netns PATH|NAME
//
// Without -t or -u, pasta forwards "auto"; passt forwards nothing.
func parsePasta(kind string, argv []string) []Forward {
	opts, rest := getopt(argv, pastaArgOpts, false)
	var nsPath string
	var pid int
	type spec struct {
		dir   pastaDirection
		value string
	}
	var specs []spec
	given := map[pastaDirection]bool{}
	for _, o := range opts {
		if d, ok := pastaPortOpts[o.name]; ok {
			specs = append(specs, spec{d, o.value})
			given[d] = true
			continue
		}
		if o.name == "netns" {
			nsPath = o.value
			if !strings.Contains(nsPath, "/") {
				nsPath = "/run/netns/" + nsPath
			}
		}
	}
	if kind == "pasta" {
		// A single numeric operand is a PID; anything else is a command
		// pasta starts in a new namespace.
		if len(rest) == 1 && nsPath == "" {
			if n, err := strconv.Atoi(rest[0]); err == nil && n > 0 {
				pid = n
			}
		}
		for _, d := range pastaDirections {
			if !given[d] {
				specs = append(specs, spec{d, "auto"})
			}
		}
	}
	fws := []Forward{}
	for _, s := range specs {
		for _, f := range parsePortSpec(s.value) {
			f.Kind = kind
			f.Proto = s.dir.proto
			f.FromNS = s.dir.fromNS
			f.NetNSPath = nsPath
			f.TargetPID = pid
			fws = append(fws, f)
		}
	}
	return fws
}

// pastaDirection is what one of pasta's -t, -u, -T, -U options forwards.
type pastaDirection struct {
	proto  model.Proto
	fromNS bool
}

// pastaDirections are -t, -u, -T and -U, in that order.
var pastaDirections = [...]pastaDirection{{model.TCP, false}, {model.UDP, false}, {model.TCP, true}, {model.UDP, true}}

// pastaPortOpts maps the port forwarding options to their direction.
var pastaPortOpts = map[string]pastaDirection{
	"t": pastaDirections[0], "tcp-ports": pastaDirections[0],
	"u": pastaDirections[1], "udp-ports": pastaDirections[1],
	"T": pastaDirections[2], "tcp-ns": pastaDirections[2],
	"U": pastaDirections[3], "udp-ns": pastaDirections[3],
}

// portRange is an inclusive range of ports.
type portRange struct{ first, last uint16 }

// parsePortSpec parses one pasta/passt port specification (passt(1)):
// "none", "auto", "all", or "[ADDR][%IFACE]/LIST" and "LIST", where LIST is
// comma-separated items "P", "P-Q", "P:R", "P-Q:R-S", and exclusions
// "~P" or "~P-Q" that cut ports out of the other items (or out of every
// port, when there are only exclusions). Invalid specs give no forwards.
func parsePortSpec(spec string) []Forward {
	switch spec {
	case "none", "":
		return nil
	case "auto", "all":
		return []Forward{{HostPort: 1, HostPortEnd: 65535, Target: netip.AddrPortFrom(netip.Addr{}, 1), Auto: true}}
	}
	var base Forward
	if where, list, ok := strings.Cut(spec, "/"); ok {
		addr, iface, _ := strings.Cut(where, "%")
		if addr != "" {
			a, err := netip.ParseAddr(addr)
			if err != nil {
				return nil
			}
			base.HostAddr = a.WithZone("")
		}
		base.Interface = iface
		spec = list
	}
	type item struct {
		src    portRange
		target uint16
	}
	var items []item
	var excl []portRange
	for it := range strings.SplitSeq(spec, ",") {
		if e, ok := strings.CutPrefix(it, "~"); ok {
			r, ok := parseRange(e)
			if !ok {
				return nil
			}
			excl = append(excl, r)
			continue
		}
		src, dst, hasDst := strings.Cut(it, ":")
		r, ok := parseRange(src)
		if !ok {
			return nil
		}
		target := r.first
		if hasDst {
			d, ok := parseRange(dst)
			if !ok {
				return nil
			}
			if d.last-d.first != r.last-r.first {
				return nil // ranges of different lengths
			}
			target = d.first
		}
		items = append(items, item{r, target})
	}
	auto := false
	if len(items) == 0 {
		// Only exclusions: every other port.
		items = append(items, item{portRange{1, 65535}, 1})
		auto = true
	}
	var out []Forward
	for _, it := range items {
		for _, r := range subtract(it.src, excl) {
			f := base
			f.HostPort, f.HostPortEnd = r.first, r.last
			f.Target = netip.AddrPortFrom(netip.Addr{}, it.target+(r.first-it.src.first))
			f.Auto = auto
			out = append(out, f)
		}
	}
	return out
}

// parseRange parses "P" or "P-Q" with 1 <= P <= Q <= 65535.
func parseRange(s string) (portRange, bool) {
	a, b, isRange := strings.Cut(s, "-")
	first := parsePort(a)
	last := first
	if isRange {
		last = parsePort(b)
	}
	if first == 0 || last < first {
		return portRange{}, false
	}
	return portRange{first, last}, true
}

// subtract removes the excluded ranges from r.
func subtract(r portRange, excl []portRange) []portRange {
	out := []portRange{r}
	for _, e := range excl {
		var next []portRange
		for _, o := range out {
			if e.last < o.first || e.first > o.last {
				next = append(next, o)
				continue
			}
			if e.first > o.first {
				next = append(next, portRange{o.first, e.first - 1})
			}
			if e.last < o.last {
				next = append(next, portRange{e.last + 1, o.last})
			}
		}
		out = next
	}
	return out
}

// option is one parsed command-line option, named without dashes.
type option struct{ name, value string }

// getopt splits a C program's command line (argv[0] first) into options
// and operands as getopt_long(3) does: "-x" options may be clustered and
// take their argument attached or as the next word; "--name=value" and
// "--name value" for long ones; "--" ends the options. argOpts names the
// options that take an argument. With permute, operands may appear among
// the options (GNU's default); without, the first operand ends the options
// (a "+" optstring), so a command and its arguments stay together.
func getopt(argv []string, argOpts map[string]bool, permute bool) (opts []option, operands []string) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return opts, append(operands, argv[i+1:]...)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			if argOpts[name] && !hasVal && i+1 < len(argv) {
				i++
				val = argv[i]
			}
			opts = append(opts, option{name, val})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				name := a[j : j+1]
				if !argOpts[name] {
					opts = append(opts, option{name, ""})
					continue
				}
				val := a[j+1:]
				if val == "" && i+1 < len(argv) {
					i++
					val = argv[i]
				}
				opts = append(opts, option{name, val})
				break
			}
		default:
			if !permute {
				return opts, append(operands, argv[i:]...)
			}
			operands = append(operands, a)
		}
	}
	return opts, operands
}

func parseProto(s string) model.Proto {
	switch s {
	case "tcp":
		return model.TCP
	case "udp":
		return model.UDP
	case "sctp":
		return model.Proto(132)
	}
	return 0
}

// parsePort parses a port number 1-65535, returning 0 for anything else.
func parsePort(s string) uint16 {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
