package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/linux/sockdiag"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

func init() {
	newSource = func(opt Options) (source, error) { return &linuxSource{opt: opt}, nil }
}

// linuxSource collects with NETLINK_SOCK_DIAG, owns with a walk of
// /proc/*/fd, and enriches from /proc, cgroups, unit files, container
// metadata and rtnetlink.
type linuxSource struct {
	opt Options
	// warnings collects degradations during one collect.
	warnings []string
}

func (l *linuxSource) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !slices.Contains(l.warnings, w) {
		l.warnings = append(l.warnings, w)
	}
}

// nsLabel names a namespace in messages before it has its final name.
func nsLabel(ns *netns) string {
	switch {
	case ns.ns.Name != "":
		return "network namespace " + ns.ns.Name
	case ns.pid != 0:
		return fmt.Sprintf("the network namespace of PID %d", ns.pid)
	}
	return fmt.Sprintf("network namespace %d", ns.ns.Inode)
}

func (l *linuxSource) close() error { return nil }

// portRanges returns the port ranges the kernel should filter on for a
// protocol, or nil for every port.
func portRanges(ts []target.Target, p model.Proto) []sockdiag.PortRange {
	var out []sockdiag.PortRange
	for _, t := range ts {
		if t.Proto != 0 && t.Proto != p {
			continue
		}
		if t.Lo == 1 && t.Hi == 65535 {
			return nil
		}
		out = append(out, sockdiag.PortRange{Lo: t.Lo, Hi: t.Hi})
	}
	return out
}

func (l *linuxSource) collect(ctx context.Context, q Query) (*model.Snapshot, error) {
	l.warnings = nil
	snap := &model.Snapshot{Host: l.host()}
	snap.Host.Time = time.Now()
	nss, warns := l.namespaces(q.AllNetNS, snap.Host.NetNS)
	snap.Warnings = append(snap.Warnings, warns...)
	defer func() {
		for _, ns := range nss {
			if ns.file != nil {
				ns.file.Close()
			}
		}
	}()

	// Collect.
	var socks []model.Socket
	dumped := 0
	for _, ns := range nss {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := len(socks)
		var err error
		socks, err = l.dump(socks, ns, q)
		if err != nil {
			snap.Warnings = append(snap.Warnings, err.Error())
			continue
		}
		dumped++
		ns.dumped = true
		for i := start; i < len(socks); i++ {
			socks[i].NetNS = ns.ns
		}
	}
	if dumped == 0 {
		return nil, fmt.Errorf("%w: %s", ErrQuery, snap.Warnings[len(snap.Warnings)-1])
	}
	socks = slices.DeleteFunc(socks, func(s model.Socket) bool { return !target.MatchAny(q.Targets, &s) })

	if q.SocketsOnly {
		snap.Sockets = socks
		snap.Warnings = append(snap.Warnings, l.warnings...)
		return snap, nil
	}

	// Own.
	want := make(map[uint64]struct{}, len(socks))
	for _, s := range socks {
		if s.Inode != 0 {
			want[s.Inode] = struct{}{}
		}
	}
	walkStart, err := procfs.NowTicks()
	if err != nil {
		walkStart = 0 // verify every holder
	}
	walk, err := procfs.Walk(l.opt.Proc, want, procfs.WalkOptions{Workers: l.opt.Workers})
	if err != nil {
		return nil, fmt.Errorf("%w: finding socket owners: %v", ErrQuery, err)
	}
	procs := procfs.NewReader(l.opt.Proc, filepath.Join(l.opt.Root, "etc/passwd"))
	holders := groupHolders(walk.FDs, procs, walkStart, l.opt.Workers)

	// Enrich.
	e := newEnricher(l.opt, procs, nss, len(walk.Denied) == 0)
	e.childPIDNS = snap.Host.InChildPIDNS
	e.labelNamespaces()
	for i := range socks {
		socks[i].NetNS = nsByInode(nss, socks[i].NetNS.Inode)
	}
	for _, ns := range nss {
		if ns.dumped {
			snap.Host.Namespaces = append(snap.Host.Namespaces, ns.ns)
		}
	}
	snap.Host.NetNS = nss[0].ns
	for i := range socks {
		socks[i].Holders = holders[socks[i].Inode]
	}
	e.prepare(socks)
	for i := range socks {
		s := &socks[i]
		if s.IfIndex != 0 && s.NetNS.Inode == snap.Host.NetNS.Inode {
			if ifc, err := net.InterfaceByIndex(int(s.IfIndex)); err == nil {
				s.Interface = ifc.Name
			}
		}
		e.attribute(s)
	}
	l.markHidden(snap, socks, walk.Denied, procs)
	snap.Warnings = append(snap.Warnings, l.warnings...)
	snap.Warnings = append(snap.Warnings, e.warnings...)
	snap.Sockets = socks
	return snap, nil
}

// dump lists the sockets of one namespace, by sock_diag or, when that is
// unavailable, from the /proc/net text tables.
func (l *linuxSource) dump(dst []model.Socket, ns *netns, q Query) ([]model.Socket, error) {
	fd := -1
	if ns.file != nil {
		fd = int(ns.file.Fd())
	}
	c, err := sockdiag.Dial(fd)
	if err != nil {
		l.warn("netlink sock_diag is unavailable in %s (%v): reading /proc/net instead, which does not say whether IPv6 sockets are v6-only", nsLabel(ns), err)
		return l.dumpProcNet(dst, ns, q, fmt.Errorf("netlink sock_diag in %s: %w", nsLabel(ns), err))
	}
	defer c.Close()
	for _, sp := range q.specs() {
		sq := sockdiag.Query{Proto: sp.proto, Family: sp.family, States: states(q, sp.proto), Ports: portRanges(q.Targets, sp.proto)}
		var derr error
		dst, derr = c.AppendSockets(dst, sq)
		if derr != nil {
			if errors.Is(derr, sockdiag.ErrUnavailable) {
				l.warn("the kernel has no sock_diag for %s%d (%v): reading /proc/net instead", sp.proto, sp.family, derr)
				var perr error
				dst, perr = sockdiag.ReadProcNet(dst, l.opt.Proc, ns.pid, sq)
				if perr != nil {
					return dst, fmt.Errorf("listing %s%d sockets in %s: %v; and /proc/net: %v", sp.proto, sp.family, nsLabel(ns), derr, perr)
				}
				continue
			}
			return dst, fmt.Errorf("listing %s%d sockets in %s: %w", sp.proto, sp.family, nsLabel(ns), derr)
		}
	}
	return dst, nil
}

func (l *linuxSource) dumpProcNet(dst []model.Socket, ns *netns, q Query, cause error) ([]model.Socket, error) {
	if ns.file != nil && ns.pid == 0 {
		return dst, fmt.Errorf("%v; no process lives in it to read /proc/PID/net from", cause)
	}
	for _, sp := range q.specs() {
		sq := sockdiag.Query{Proto: sp.proto, Family: sp.family, States: states(q, sp.proto), Ports: portRanges(q.Targets, sp.proto)}
		var err error
		dst, err = sockdiag.ReadProcNet(dst, l.opt.Proc, ns.pid, sq)
		if err != nil {
			return dst, fmt.Errorf("%v; and /proc/net: %v", cause, err)
		}
	}
	return dst, nil
}

func states(q Query, p model.Proto) model.StateMask {
	if q.AllStates {
		return model.AllStates
	}
	return ListenStates(p)
}

// groupHolders turns the walk's descriptors into holders per inode, in PID
// order with descriptors ascending, reading each process's details once,
// with as many workers as the walk.
//
// A process may have exited since the walk and its PID been taken by
// another. A process that started before the walk and is alive is the one
// the walk saw (PIDs are unique among live processes); for any other, the
// descriptors are checked again after its details were read, and those that
// no longer refer to their sockets are dropped.
func groupHolders(fds []procfs.FD, procs *procfs.Reader, walkStart uint64, workers int) map[uint64][]model.Holder {
	slices.SortFunc(fds, func(a, b procfs.FD) int {
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		return a.FD - b.FD
	})
	type group struct {
		fds  []procfs.FD // of one process
		proc *model.Process
	}
	var groups []group
	for i := 0; i < len(fds); {
		j := i
		for j < len(fds) && fds[j].PID == fds[i].PID {
			j++
		}
		groups = append(groups, group{fds: fds[i:j]})
		i = j
	}

	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 8)
	}
	workers = max(1, min(workers, len(groups)))
	var next atomic.Int64
	var wg sync.WaitGroup
	readers := make([]*procfs.Reader, workers)
	for w := range readers {
		r := procs.Fork()
		readers[w] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(groups) {
					return
				}
				g := &groups[k]
				p, err := r.Process(g.fds[0].PID)
				if err != nil {
					g.fds = nil
					continue
				}
				g.proc = p
				if p.StartTicks+1 >= walkStart { // same tick counts as after
					g.fds = r.Held(p.PID, g.fds)
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range readers {
		procs.Merge(r)
	}

	out := make(map[uint64][]model.Holder)
	for _, g := range groups {
		if g.proc == nil {
			continue
		}
		procs.Ancestors(g.proc)
		for _, fd := range g.fds {
			hs := out[fd.Inode]
			if n := len(hs); n > 0 && hs[n-1].PID == fd.PID {
				hs[n-1].FDs = append(hs[n-1].FDs, fd.FD)
				continue
			}
			out[fd.Inode] = append(hs, model.Holder{PID: fd.PID, FDs: []int{fd.FD}, Process: g.proc})
		}
	}
	return out
}

// markHidden records, per socket without holders, why none was found, and
// the summary for the user. The likely holders are the unreadable
// processes running as the user that created the socket.
func (l *linuxSource) markHidden(snap *model.Snapshot, socks []model.Socket, denied []int, procs *procfs.Reader) {
	if len(denied) == 0 {
		return
	}
	root := snap.Host.EUID == 0
	byUID := map[uint32][]string{} // unreadable processes by user
	for _, pid := range denied {
		if p, err := procs.Process(pid); err == nil {
			byUID[p.UID] = append(byUID[p.UID], fmt.Sprintf("%s (%d)", p.Name, pid))
		}
	}
	reason := "needs root"
	if root {
		reason = "the kernel refused even root access to the descriptors of " + pidList(denied)
	}
	for i := range socks {
		s := &socks[i]
		if s.Inode == 0 || hasKind(s.Attributions, model.AttrKernel) {
			continue
		}
		cands := byUID[s.UID]
		switch {
		case len(s.Holders) == 0:
			s.Hidden = reason
		case !root && len(cands) > 0 && !slices.ContainsFunc(s.Holders, func(h model.Holder) bool { return h.Process != nil && h.Process.UID == s.UID }):
			// Not root, we see only our own processes. If the user that
			// created the socket runs none of the visible holders but some
			// unreadable process, the creator (a root master with workers
			// running as us) is likely hidden. As root the same sign would
			// also fit every daemon that drops privileges after binding.
			s.Hidden = fmt.Sprintf("%s; uid %d created the socket and runs none of the visible holders", reason, s.UID)
		default:
			continue
		}
		if n := len(cands); n > 0 && n <= 3 {
			s.Hidden += "; likely " + strings.Join(cands, ", ")
		}
		snap.Hidden.Sockets++
	}
	if snap.Hidden.Sockets > 0 {
		snap.Hidden.Processes = denied
		snap.Hidden.NeedsRoot = !root
		snap.Hidden.Reason = reason
	}
}

func hasKind(as []model.Attribution, k model.AttrKind) bool {
	for _, a := range as {
		if a.Kind == k {
			return true
		}
	}
	return false
}

func pidList(pids []int) string {
	const max = 5
	s := "PID"
	if len(pids) > 1 {
		s += "s"
	}
	for i, p := range pids {
		if i == max {
			return s + fmt.Sprintf(" and %d more", len(pids)-max)
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %d", p)
	}
	return s
}

// Inode numbers of the initial namespaces (include/uapi/linux/nsfs.h,
// enum init_ns_ino). The PID one is fixed since Linux 3.8, the network one
// since 6.18; namespaces created later get numbers from 0xF0000000 up.
const (
	initPIDNSInode = 0xEFFFFFFC
	initNetNSInode = 0xEFFFFFF9
)

func (l *linuxSource) host() model.Host {
	h := model.Host{OS: "linux", EUID: os.Geteuid()}
	h.Hostname, _ = os.Hostname()
	var st unix.Stat_t
	// In a child PID namespace some holders are invisible. Its /proc may
	// show only the inner PIDs (unshare --mount-proc), so NSpid in
	// /proc/self/status cannot tell; the namespace's inode can.
	if unix.Stat(filepath.Join(l.opt.Proc, "self/ns/pid"), &st) == nil && st.Ino != initPIDNSInode {
		h.InChildPIDNS = true
	}
	if b, err := os.ReadFile(filepath.Join(l.opt.Proc, "sys/net/ipv4/ip_unprivileged_port_start")); err == nil {
		h.UnprivilegedPortStart, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if unix.Stat(filepath.Join(l.opt.Proc, "self/ns/net"), &st) == nil {
		h.NetNS.Inode = st.Ino
		h.NetNS.Name = "current"
		// PID 1 is the host's init only in the initial PID namespace; in
		// a container it is the container's.
		if st.Ino == initNetNSInode {
			h.NetNS.Name = "host"
		} else if !h.InChildPIDNS && unix.Stat(filepath.Join(l.opt.Proc, "1/ns/net"), &st) == nil && st.Ino == h.NetNS.Inode {
			h.NetNS.Name = "host"
		}
	}
	return h
}

func nsByInode(nss []*netns, ino uint64) model.NetNS {
	for _, ns := range nss {
		if ns.ns.Inode == ino {
			return ns.ns
		}
	}
	return model.NetNS{Inode: ino}
}

func (l *linuxSource) firewall(ctx context.Context) (Firewall, error) {
	return readFirewall(ctx, l.host().NetNS.Inode)
}
