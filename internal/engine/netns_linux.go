package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/model"
)

// netns is one network namespace to collect from.
type netns struct {
	ns model.NetNS
	// file is the open namespace, nil for our own.
	file *os.File
	// pid is a process inside the namespace (the lowest PID), whose
	// /proc/PID/net tables are the fallback when netlink cannot enter it;
	// 0 for our own namespace.
	pid int
	// named is true when the name comes from /run/netns.
	named bool
	// dumped is true once its sockets were listed.
	dumped bool
}

// namespaces returns our own namespace and, when all is set, every other
// network namespace a process lives in or /run/netns names.
func (l *linuxSource) namespaces(all bool, own model.NetNS) ([]*netns, []string) {
	nss := []*netns{{ns: own}}
	if !all {
		return nss, nil
	}
	var warns []string
	seen := map[uint64]*netns{own.Inode: nss[0]}
	pids, err := listPIDs(l.opt.Proc)
	if err != nil {
		return nss, []string{fmt.Sprintf("--all-netns: listing processes: %v", err)}
	}
	denied := 0
	for _, pid := range pids {
		path := filepath.Join(l.opt.Proc, strconv.Itoa(pid), "ns/net")
		link, err := os.Readlink(path)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				denied++
			}
			continue
		}
		ino, ok := procfs.ParseNSLink([]byte(link), "net")
		if !ok || seen[ino] != nil {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		ns := &netns{ns: model.NetNS{Inode: ino}, file: f, pid: pid}
		seen[ino] = ns
		nss = append(nss, ns)
	}
	runNetns := filepath.Join(l.opt.Root, "run/netns")
	entries, _ := os.ReadDir(runNetns)
	for _, e := range entries {
		path := filepath.Join(runNetns, e.Name())
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			continue
		}
		if ns := seen[st.Ino]; ns != nil {
			if !ns.named && ns != nss[0] {
				ns.ns.Name, ns.named = e.Name(), true
			}
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			warns = append(warns, fmt.Sprintf("--all-netns: opening %s: %v", path, err))
			continue
		}
		ns := &netns{ns: model.NetNS{Inode: st.Ino, Name: e.Name()}, file: f, named: true}
		seen[st.Ino] = ns
		nss = append(nss, ns)
	}
	if denied > 0 {
		warns = append(warns, fmt.Sprintf("--all-netns: the network namespaces of %d processes could not be read (needs root)", denied))
	}
	return nss, warns
}

// listPIDs returns the PIDs under a /proc mount, ascending.
func listPIDs(proc string) ([]int, error) {
	d, err := os.Open(proc)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}
