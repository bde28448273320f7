package sockdiag

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

// ReadProcNet reads the /proc/net table for q's protocol and family
// (tcp, tcp6, udp or udp6) of the network namespace of process pid, from
// <procRoot>/<pid>/net/<table>; pid 0 reads <procRoot>/net/<table>, the
// table of the reader's own namespace. A thread ID works as pid too and
// names that thread's namespace. Note that <procRoot>/net is a link to
// self/net, which shows the namespace of the process's main thread, not of
// the calling thread. ReadProcNet applies q's state and port filters itself
// and appends the matching sockets to dst, with NetNS.Inode set when the
// namespace's inode can be read (<procRoot>/<pid>/ns/net, or self/ns/net).
// See AppendProcNet for what the tables cannot say.
//
// On error dst is returned as it came.
func ReadProcNet(dst []model.Socket, procRoot string, pid int, q Query) ([]model.Socket, error) {
	if err := q.validate(); err != nil {
		return dst, err
	}
	name := q.Proto.String()
	if q.Family == 6 {
		name += "6"
	}
	dir, nsPath := filepath.Join(procRoot, "net"), filepath.Join(procRoot, "self", "ns", "net")
	if pid != 0 {
		p := strconv.Itoa(pid)
		dir, nsPath = filepath.Join(procRoot, p, "net"), filepath.Join(procRoot, p, "ns", "net")
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return dst, fmt.Errorf("reading sockets: %w", err)
	}
	defer f.Close()
	n0 := len(dst)
	dst, err = AppendProcNet(dst, f, q.Proto, q.Family, q.States)
	if err != nil {
		return dst[:n0], fmt.Errorf("reading %s: %w", path, err)
	}

	var ns model.NetNS
	var st unix.Stat_t
	if unix.Stat(nsPath, &st) == nil {
		ns.Inode = st.Ino
	}
	kept := dst[:n0]
	for _, s := range dst[n0:] {
		if q.matchPort(s.Local.Port()) {
			s.NetNS = ns
			kept = append(kept, s)
		}
	}
	clear(dst[len(kept):])
	return kept, nil
}
