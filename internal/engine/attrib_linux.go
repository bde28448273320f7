package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/linux/cgroup"
	"github.com/whobinds/whobinds/internal/linux/containers"
	"github.com/whobinds/whobinds/internal/linux/kernelsock"
	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/linux/systemd"
	"github.com/whobinds/whobinds/internal/model"
)

// enricher attributes sockets. Everything it learns is cached for the
// snapshot: per process (units, containers, parent chains), per namespace
// (kernel owners) and once (unit files, container metadata).
type enricher struct {
	opt   Options
	procs *procfs.Reader
	nss   []*netns
	// complete is true when every process's descriptors could be read, so
	// a socket without holders really has none in this PID namespace.
	complete bool
	// childPIDNS is true when whobinds runs in a child PID namespace and
	// cannot see every process on the host.
	childPIDNS bool

	perPID  map[int][]model.Attribution
	kernel  map[kernelKey][]kernelsock.Owner
	units   map[int][]systemd.SocketUnit // by the PID of the systemd manager
	store   *containers.Store
	ppids   map[int][]int // parent → children, built on first need
	nsProcs map[uint64]int
	// fd3 are the processes holding a listening socket as descriptor 3,
	// where a socket activator puts the first socket it passes; envs
	// caches their LISTEN_* variables.
	fd3  map[int]bool
	envs map[int]map[string]string

	warnings []string
}

func newEnricher(opt Options, procs *procfs.Reader, nss []*netns, complete bool) *enricher {
	return &enricher{
		opt: opt, procs: procs, nss: nss, complete: complete,
		perPID: map[int][]model.Attribution{},
		units:  map[int][]systemd.SocketUnit{},
		kernel: map[kernelKey][]kernelsock.Owner{},
		store:  &containers.Store{Root: opt.Root},
	}
}

// prepare notes what attribution needs to know about all sockets at once.
func (e *enricher) prepare(socks []model.Socket) {
	e.fd3 = map[int]bool{}
	e.envs = map[int]map[string]string{}
	for i := range socks {
		if !socks[i].IsListener() {
			continue
		}
		for _, h := range socks[i].Holders {
			if slices.Contains(h.FDs, 3) {
				e.fd3[h.PID] = true
			}
		}
	}
}

func (e *enricher) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !slices.Contains(e.warnings, w) {
		e.warnings = append(e.warnings, w)
	}
}

// attribute fills s.Attributions, most specific first.
func (e *enricher) attribute(s *model.Socket) {
	if s.Inode == 0 {
		if a, ok := stateOwner(s); ok {
			s.Attributions = append(s.Attributions, a)
		}
		return
	}
	if len(s.Holders) == 0 {
		e.attributeOrphan(s)
		return
	}
	var as []model.Attribution
	for _, h := range s.Holders {
		if h.Process == nil {
			continue
		}
		as = append(as, e.forSocket(h, s)...)
		for _, a := range e.forProcess(h.Process) {
			// A prefork worker started by the master that holds the same
			// socket: the parent chain says nothing new.
			if a.Kind == model.AttrStartedBy && holds(s, h.Process.PPID) {
				continue
			}
			as = append(as, a)
		}
	}
	s.Attributions = dedupe(as)
}

// holds reports whether pid is one of the socket's holders.
func holds(s *model.Socket, pid int) bool {
	return slices.ContainsFunc(s.Holders, func(h model.Holder) bool { return h.PID == pid })
}

// stateOwner explains sockets with no inode: the kernel keeps them after
// the process closed the connection, or before anyone accepted it.
func stateOwner(s *model.Socket) (model.Attribution, bool) {
	a := model.Attribution{Kind: model.AttrKernel, Evidence: "inet_diag: socket with inode 0 in state " + s.State.String()}
	switch s.State {
	case model.TimeWait:
		a.Detail = "the connection is closed; the kernel keeps it in TIME-WAIT for up to 60 s so late packets are not misread"
	case model.SynRecv, model.NewSynRecv:
		a.Detail = "a connection being set up, waiting in the listener's queue; no process has accepted it yet"
	default:
		a.Detail = "the process closed this connection; the kernel finishes shutting it down"
	}
	return a, true
}

func (e *enricher) attributeOrphan(s *model.Socket) {
	if o, ok := kernelsock.Match(e.kernelOwners(s.NetNS.Inode, s.Proto), s); ok {
		s.Attributions = append(s.Attributions, model.Attribution{
			Kind: model.AttrKernel, Name: o.Name, Manager: o.Kind, Detail: o.Detail, Evidence: o.Evidence,
		})
		return
	}
	if e.complete {
		detail := "no process holds this socket: kernel-owned, or held by a process outside this PID namespace"
		if e.childPIDNS {
			detail = "no process in this PID namespace holds this socket: whobinds runs inside a child PID namespace, so the holder is most likely a process outside it (or the kernel)"
		}
		s.Attributions = append(s.Attributions, model.Attribution{
			Kind:      model.AttrKernel,
			Detail:    detail,
			Evidence:  "no descriptor in " + e.opt.Proc + "/*/fd refers to socket:[" + strconv.FormatUint(s.Inode, 10) + "]",
			Ambiguous: e.childPIDNS,
		})
	}
}

// kernelKey caches kernel owners per namespace and protocol.
type kernelKey struct {
	netns uint64
	proto model.Proto
}

func (e *enricher) kernelOwners(nsIno uint64, proto model.Proto) []kernelsock.Owner {
	k := kernelKey{nsIno, proto}
	if o, ok := e.kernel[k]; ok {
		return o
	}
	fd := -1
	for _, ns := range e.nss {
		if ns.ns.Inode == nsIno && ns.file != nil {
			fd = int(ns.file.Fd())
		}
	}
	owners, err := kernelsock.Collect(fd, e.opt.Proc, proto)
	if err != nil {
		e.warn("identifying kernel-owned sockets: %v", err)
	}
	e.kernel[k] = owners
	return owners
}

// forProcess returns what explains a process regardless of the socket:
// its container, its systemd unit, who started it. Cached per PID.
func (e *enricher) forProcess(p *model.Process) []model.Attribution {
	if as, ok := e.perPID[p.PID]; ok {
		return as
	}
	var as []model.Attribution
	path := p.Cgroup
	ctr, inCtr := cgroup.ContainerOf(path)
	if inCtr {
		as = append(as, e.container(ctr, path, p.PID))
	}
	if u, ok := cgroup.UnitOf(path); ok && !(inCtr && ctr.ID != "" && strings.Contains(u.Name, ctr.ID)) {
		as = append(as, model.Attribution{
			Kind: model.AttrUnit, PID: p.PID, Name: u.Name, Manager: u.Manager,
			Evidence: "cgroup " + path,
		})
	}
	if a, ok := startedBy(p); ok {
		as = append(as, a)
	}
	e.perPID[p.PID] = as
	return as
}

func (e *enricher) container(c cgroup.Container, path string, pid int) model.Attribution {
	a := model.Attribution{Kind: model.AttrContainer, PID: pid, Manager: c.Runtime, ID: c.ID, Pod: c.PodUID, Name: c.Name, Evidence: "cgroup " + path}
	if c.ID == "" {
		return a
	}
	info, ok, err := e.store.ByID(c.Runtime, c.ID)
	switch {
	case ok:
		a.Name, a.Image = info.Name, info.Image
		if info.Evidence != "" {
			a.Evidence += "; " + info.Evidence
		}
	case err != nil:
		e.warn("naming %s container %.12s: %v", c.Runtime, c.ID, err)
	}
	return a
}

// startedBy describes the parent chain when the parent is not PID 1.
func startedBy(p *model.Process) (model.Attribution, bool) {
	if len(p.Ancestors) == 0 || p.Ancestors[0].PID == 1 {
		return model.Attribution{}, false
	}
	var b strings.Builder
	for i, a := range p.Ancestors {
		if i > 0 {
			b.WriteString(" ← ")
		}
		fmt.Fprintf(&b, "%s (%d)", a.Name, a.PID)
	}
	return model.Attribution{
		Kind: model.AttrStartedBy, PID: p.PID, Name: p.Ancestors[0].Name,
		Detail: b.String(), Evidence: "parent chain from /proc/PID/stat",
	}, true
}

// forSocket returns what explains a holder of this particular socket:
// socket activation and port forwarding depend on the address.
func (e *enricher) forSocket(h model.Holder, s *model.Socket) []model.Attribution {
	p := h.Process
	var as []model.Attribution
	switch {
	case p.Name == "systemd" && (p.PID == 1 || slices.Contains(p.Cmdline, "--user")):
		as = append(as, e.systemdSocket(p, s))
	case p.Name == "systemd-socket-" || (len(p.Cmdline) > 0 && filepath.Base(p.Cmdline[0]) == "systemd-socket-activate"):
		as = append(as, e.activator(p))
	case p.Name == "inetd" || p.Name == "xinetd" || p.Name == "inetutils-inetd":
		as = append(as, model.Attribution{
			Kind: model.AttrSocketActivation, PID: p.PID, Manager: p.Name,
			Detail:   p.Name + " listens here and starts the configured service for each connection",
			Evidence: "process name " + p.Name,
		})
	default:
		if a, ok := e.activated(h); ok {
			as = append(as, a)
		}
	}
	if fw, ok := containers.ParseForwarder(p.Name, p.Cmdline); ok {
		as = append(as, e.forwarder(p, fw, s))
	}
	return as
}

func (e *enricher) systemdSocket(p *model.Process, s *model.Socket) model.Attribution {
	a := model.Attribution{Kind: model.AttrSocketActivation, PID: p.PID, Manager: "systemd"}
	if p.PID != 1 {
		a.Manager = "systemd user@" + strconv.FormatUint(uint64(p.UID), 10)
	}
	units, ok := e.units[p.PID]
	if !ok {
		dirs, scope := systemd.SystemUnitDirs, "system"
		if p.PID != 1 {
			// A user manager (systemd --user) reads the user's unit
			// directories, under its HOME.
			dirs, scope = systemd.UserUnitDirs(e.home(p.PID)), "user@"+strconv.FormatUint(uint64(p.UID), 10)
		}
		var err error
		units, err = systemd.LoadSocketUnits(e.opt.Root, dirs)
		if err != nil {
			e.warn("reading the %s manager's socket units: %v", scope, err)
		}
		e.units[p.PID] = units
	}
	if u, ok := systemd.MatchSocketUnit(units, s.Proto, s.Local); ok {
		a.Name, a.Service, a.Evidence = u.Name, u.Service, u.Evidence
		a.Detail = "systemd listens here for " + u.Name + " and starts " + u.Service
		if u.Accept {
			a.Detail += " for each connection"
		} else {
			a.Detail += " on the first connection"
		}
		return a
	}
	a.Ambiguous = true
	a.Detail = "systemd holds this socket for a socket unit, but no unit file under /etc, /run or /usr/lib declares this address"
	a.Evidence = "holder is systemd (PID " + strconv.Itoa(p.PID) + ")"
	return a
}

// activator explains systemd-socket-activate: it listens and starts the
// command after its options on the first connection, or per connection
// with --accept.
func (e *enricher) activator(p *model.Process) model.Attribution {
	accept, cmd := parseActivateArgs(p.Cmdline)
	a := model.Attribution{
		Kind: model.AttrSocketActivation, PID: p.PID, Manager: "systemd-socket-activate",
		Service: strings.Join(cmd, " "), Evidence: "command line of PID " + strconv.Itoa(p.PID),
	}
	if accept {
		a.Detail = "systemd-socket-activate listens here and starts `" + a.Service + "` for each connection"
		if kids := e.children(p.PID); len(kids) > 0 {
			a.Detail += "; running now: " + e.describePIDs(kids)
		}
	} else {
		a.Detail = "systemd-socket-activate listens here and becomes `" + a.Service + "` on the first connection"
	}
	return a
}

// parseActivateArgs splits systemd-socket-activate's argv into its mode
// and the command it runs.
func parseActivateArgs(argv []string) (accept bool, cmd []string) {
	withValue := map[string]bool{"-l": true, "--listen": true, "-E": true, "--setenv": true, "--fdname": true}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return accept, argv[i+1:]
		case a == "-a" || a == "--accept":
			accept = true
		case withValue[a]:
			i++
		case strings.HasPrefix(a, "-"):
			// --listen=..., --datagram, --inetd, -d, ...
		default:
			return accept, argv[i:]
		}
	}
	return accept, nil
}

// environ returns the LISTEN_* and HOME variables of a process.
func (e *enricher) environ(pid int) map[string]string {
	env, err := os.ReadFile(filepath.Join(e.opt.Proc, strconv.Itoa(pid), "environ"))
	if err != nil {
		return nil
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok && (bytes.HasPrefix(k, []byte("LISTEN_")) || string(k) == "HOME") {
			vars[string(k)] = string(v)
		}
	}
	return vars
}

// home is the HOME of a process, for a user manager's unit directories.
func (e *enricher) home(pid int) string {
	if h := e.environ(pid)["HOME"]; h != "" {
		return h
	}
	return "/nonexistent"
}

// activated recognizes a service that received its socket from a socket
// activator (sd_listen_fds(3)): descriptors from 3 on, and LISTEN_PID and
// LISTEN_FDS in its environment.
func (e *enricher) activated(h model.Holder) (model.Attribution, bool) {
	if !e.fd3[h.PID] {
		return model.Attribution{}, false
	}
	vars, ok := e.envs[h.PID]
	if !ok {
		vars = e.environ(h.PID)
		e.envs[h.PID] = vars
	}
	n, err := strconv.Atoi(vars["LISTEN_FDS"])
	if err != nil || n < 1 || vars["LISTEN_PID"] != strconv.Itoa(h.PID) {
		return model.Attribution{}, false
	}
	if !slices.ContainsFunc(h.FDs, func(fd int) bool { return fd >= 3 && fd < 3+n }) {
		return model.Attribution{}, false
	}
	a := model.Attribution{
		Kind: model.AttrSocketActivation, PID: h.PID,
		Detail:   "received this socket from a socket activator (LISTEN_FDS=" + vars["LISTEN_FDS"] + "); it did not open it itself",
		Evidence: "LISTEN_PID and LISTEN_FDS in the environment of PID " + strconv.Itoa(h.PID),
	}
	if names := vars["LISTEN_FDNAMES"]; names != "" {
		a.Name = names
	}
	return a, true
}

func (e *enricher) forwarder(p *model.Process, fws []containers.Forward, s *model.Socket) model.Attribution {
	a := model.Attribution{Kind: model.AttrForwarder, PID: p.PID, Manager: fws[0].Kind, Evidence: "command line of PID " + strconv.Itoa(p.PID)}
	fw := fws[0]
	for _, f := range fws {
		if _, ok := f.Maps(s.Proto, s.Local.Port()); ok {
			fw = f
			break
		}
	}
	a.Target = fw.Target
	if port, ok := fw.Maps(s.Proto, s.Local.Port()); ok {
		a.Target = netip.AddrPortFrom(fw.Target.Addr(), port)
	}
	var where string
	if fw.Target.Addr().IsValid() {
		if info, ok := e.store.ByIP(fw.Target.Addr()); ok {
			a.Name, a.ID, a.Image = info.Name, info.ID, info.Image
		}
		where = fw.Target.String()
	}
	if a.Name == "" {
		if c, ok := e.containerInNetNS(fw); ok {
			a.Name, a.ID, a.Image = c.Name, c.ID, c.Image
		}
	}
	switch {
	case a.Name != "" && where != "":
		a.Detail = fmt.Sprintf("%s forwards this port to container %s at %s", fw.Kind, a.Name, where)
	case a.Name != "":
		a.Detail = fmt.Sprintf("%s forwards this port into container %s", fw.Kind, a.Name)
	case where != "":
		a.Detail = fmt.Sprintf("%s forwards this port to %s", fw.Kind, where)
	case fw.NetNSPath != "":
		a.Detail = fmt.Sprintf("%s forwards this port into the network namespace %s", fw.Kind, fw.NetNSPath)
	case fw.TargetPID != 0:
		a.Detail = fmt.Sprintf("%s forwards this port into the network namespace of PID %d", fw.Kind, fw.TargetPID)
	default:
		a.Detail = fmt.Sprintf("%s forwards this port into a container's network namespace", fw.Kind)
	}
	if !a.Target.Addr().IsValid() && a.Target.Port() != 0 {
		a.Detail += fmt.Sprintf(", port %d there", a.Target.Port())
	}
	return a
}

// containerInNetNS finds the container whose network namespace a forwarder
// targets, through a process that lives in that namespace.
func (e *enricher) containerInNetNS(fw containers.Forward) (containers.Info, bool) {
	var ino uint64
	switch {
	case fw.NetNSPath != "":
		var st unix.Stat_t
		if unix.Stat(fw.NetNSPath, &st) != nil {
			return containers.Info{}, false
		}
		ino = st.Ino
	case fw.TargetPID != 0:
		l, err := os.Readlink(filepath.Join(e.opt.Proc, strconv.Itoa(fw.TargetPID), "ns/net"))
		if err != nil {
			return containers.Info{}, false
		}
		ino, _ = procfs.ParseNSLink([]byte(l), "net")
	default:
		return containers.Info{}, false
	}
	pid, ok := e.processInNetNS(ino)
	if !ok {
		return containers.Info{}, false
	}
	p, err := e.procs.Process(pid)
	if err != nil {
		return containers.Info{}, false
	}
	c, ok := cgroup.ContainerOf(p.Cgroup)
	if !ok || c.ID == "" {
		return containers.Info{}, false
	}
	info, ok, _ := e.store.ByID(c.Runtime, c.ID)
	return info, ok
}

// processInNetNS returns the lowest PID living in a network namespace.
func (e *enricher) processInNetNS(ino uint64) (int, bool) {
	if e.nsProcs == nil {
		e.nsProcs = map[uint64]int{}
		pids, _ := listPIDs(e.opt.Proc)
		for _, pid := range pids {
			l, err := os.Readlink(filepath.Join(e.opt.Proc, strconv.Itoa(pid), "ns/net"))
			if err != nil {
				continue
			}
			if n, ok := procfs.ParseNSLink([]byte(l), "net"); ok {
				if _, seen := e.nsProcs[n]; !seen {
					e.nsProcs[n] = pid
				}
			}
		}
	}
	pid, ok := e.nsProcs[ino]
	return pid, ok
}

// children returns the PIDs whose parent is pid.
func (e *enricher) children(pid int) []int {
	if e.ppids == nil {
		e.ppids = map[int][]int{}
		pids, _ := listPIDs(e.opt.Proc)
		for _, c := range pids {
			b, err := os.ReadFile(filepath.Join(e.opt.Proc, strconv.Itoa(c), "stat"))
			if err != nil {
				continue
			}
			if st, err := procfs.ParseStat(b); err == nil {
				e.ppids[st.PPID] = append(e.ppids[st.PPID], c)
			}
		}
	}
	return e.ppids[pid]
}

func (e *enricher) describePIDs(pids []int) string {
	var parts []string
	for _, pid := range pids {
		if p, err := e.procs.Process(pid); err == nil {
			parts = append(parts, fmt.Sprintf("%s (%d)", p.Name, pid))
		}
	}
	return strings.Join(parts, ", ")
}

// labelNamespaces names the namespaces that /run/netns does not: by the
// container or the process that lives in them.
func (e *enricher) labelNamespaces() {
	for _, ns := range e.nss {
		if ns.ns.Name != "" || ns.pid == 0 {
			continue
		}
		p, err := e.procs.Process(ns.pid)
		if err != nil {
			ns.ns.Name = fmt.Sprintf("netns of PID %d", ns.pid)
			continue
		}
		for _, a := range e.forProcess(p) {
			if a.Kind == model.AttrContainer {
				name := a.Name
				if name == "" {
					name = shortID(a.ID)
				}
				if name != "" {
					ns.ns.Name = a.Manager + " container " + name
				}
				break
			}
		}
		if ns.ns.Name == "" {
			ns.ns.Name = fmt.Sprintf("netns of %s (PID %d)", p.Name, p.PID)
		}
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// dedupe drops repeated attributions (a prefork server's workers share the
// master's unit), keeping the first holder's PID.
func dedupe(as []model.Attribution) []model.Attribution {
	type key struct {
		kind                        model.AttrKind
		name, manager, id, svc, det string
	}
	seen := map[key]bool{}
	out := as[:0]
	for _, a := range as {
		k := key{a.Kind, a.Name, a.Manager, a.ID, a.Service, a.Detail}
		if a.Kind == model.AttrStartedBy {
			k.det = a.Name // workers started by the master: once
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b model.Attribution) int { return kindRank(a.Kind) - kindRank(b.Kind) })
	return out
}

func kindRank(k model.AttrKind) int {
	switch k {
	case model.AttrSocketActivation:
		return 0
	case model.AttrForwarder:
		return 1
	case model.AttrContainer:
		return 2
	case model.AttrUnit:
		return 3
	case model.AttrKernel:
		return 4
	}
	return 5
}
