package procfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FD is one file descriptor that refers to a wanted socket.
type FD struct {
	Inode uint64
	PID   int
	FD    int
}

// WalkResult is what a walk of /proc/*/fd found.
type WalkResult struct {
	// FDs are the descriptors of wanted sockets, in no particular order.
	FDs []FD
	// Denied are the PIDs whose descriptors could not be read (not ours and
	// we are not root, or the kernel refused even root), ascending.
	Denied []int
	// Processes is how many processes were scanned.
	Processes int
	// Stopped is true when the walk ended early because every wanted
	// inode had a holder (WalkOptions.StopWhenFound).
	Stopped bool
}

// WalkOptions tune a walk.
type WalkOptions struct {
	// Workers is the number of goroutines scanning processes in parallel;
	// 0 means min(GOMAXPROCS, 8). The work is kernel time, so more workers
	// than CPUs do not help.
	Workers int
	// StopWhenFound ends the walk once every wanted inode has at least one
	// holder. Without it the walk is exhaustive and finds every holder.
	StopWhenFound bool
}

// Walk finds every process descriptor that refers to one of the wanted
// socket inodes, by reading the links in root/PID/fd. Per descriptor it
// makes exactly one readlinkat call relative to the fd directory.
//
// Processes that exit during the walk are skipped. Processes whose fd
// directory cannot be read are listed in Denied; callers must not conclude
// that a socket has no holder while Denied is not empty.
func Walk(root string, want map[uint64]struct{}, opt WalkOptions) (WalkResult, error) {
	var res WalkResult
	procfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, fmt.Errorf("opening %s: %w", root, err)
	}
	defer unix.Close(procfd)
	pids, err := listPIDs(procfd)
	if err != nil {
		return res, fmt.Errorf("listing %s: %w", root, err)
	}
	res.Processes = len(pids)
	if len(want) == 0 {
		return res, nil
	}

	workers := opt.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 8)
	}
	workers = max(1, min(workers, len(pids)))

	var found *foundSet
	if opt.StopWhenFound {
		found = newFoundSet(want)
	}
	var (
		next    atomic.Int64
		scanned atomic.Int64
		wg      sync.WaitGroup
		scans   = make([]scanner, workers)
	)
	for w := range scans {
		s := &scans[w]
		s.init(procfd, want, found)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if found != nil && found.done() {
					return
				}
				i := next.Add(1) - 1
				if i >= int64(len(pids)) {
					return
				}
				s.scan(pids[i])
				scanned.Add(1)
			}
		}()
	}
	wg.Wait()

	n := 0
	for i := range scans {
		n += len(scans[i].fds)
	}
	res.FDs = make([]FD, 0, n)
	for i := range scans {
		res.FDs = append(res.FDs, scans[i].fds...)
		res.Denied = append(res.Denied, scans[i].denied...)
	}
	slices.Sort(res.Denied)
	if found != nil && found.done() {
		res.Stopped = true
		res.Processes = int(scanned.Load())
	}
	return res, nil
}

// foundSet tracks which wanted inodes have a holder, for early exit.
type foundSet struct {
	index     map[uint64]int
	flags     []atomic.Bool
	remaining atomic.Int64
}

func newFoundSet(want map[uint64]struct{}) *foundSet {
	f := &foundSet{index: make(map[uint64]int, len(want)), flags: make([]atomic.Bool, len(want))}
	for ino := range want {
		f.index[ino] = len(f.index)
	}
	f.remaining.Store(int64(len(want)))
	return f
}

func (f *foundSet) mark(ino uint64) {
	if i, ok := f.index[ino]; ok && f.flags[i].CompareAndSwap(false, true) {
		f.remaining.Add(-1)
	}
}

func (f *foundSet) done() bool { return f.remaining.Load() <= 0 }

// scanner is one worker's state: buffers reused across processes so that the
// walk does not allocate per descriptor.
type scanner struct {
	procfd int
	want   map[uint64]struct{}
	found  *foundSet
	path   []byte // "PID/fd\x00"
	name   []byte // "N\x00"
	dents  []byte
	link   []byte
	fds    []FD
	denied []int
}

func (s *scanner) init(procfd int, want map[uint64]struct{}, found *foundSet) {
	s.procfd, s.want, s.found = procfd, want, found
	s.path = make([]byte, 0, 32)
	s.name = make([]byte, 0, 16)
	s.dents = make([]byte, 16<<10)
	// A socket link is at most len("socket:[18446744073709551615]") bytes;
	// anything longer is not a socket and may be truncated.
	s.link = make([]byte, 32)
}

func (s *scanner) scan(pid int) {
	s.path = append(strconv.AppendInt(s.path[:0], int64(pid), 10), "/fd\x00"...)
	dirfd, err := openat(s.procfd, s.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		if err == unix.EACCES || err == unix.EPERM {
			s.denied = append(s.denied, pid)
		}
		// ENOENT/ESRCH: the process exited; nothing to report.
		return
	}
	defer unix.Close(dirfd)
	for {
		n, err := unix.Getdents(dirfd, s.dents)
		if err != nil {
			if err == unix.EACCES || err == unix.EPERM {
				s.denied = append(s.denied, pid)
			}
			return
		}
		if n <= 0 {
			return
		}
		if !s.entries(dirfd, pid, s.dents[:n]) {
			return
		}
	}
}

// Offsets in struct linux_dirent64 (getdents64(2)).
const (
	direntReclen = 16
	direntName   = 19
)

// entries reads the links of one batch of directory entries. It returns
// false when the process's descriptors turned out to be unreadable.
func (s *scanner) entries(dirfd, pid int, b []byte) bool {
	for {
		name, rest, ok := nextEntry(b)
		if !ok {
			return true
		}
		b = rest
		fd := atoiName(name)
		if fd < 0 {
			continue // "." and ".."
		}
		s.name = append(append(s.name[:0], name...), 0)
		n, err := readlinkat(dirfd, s.name, s.link)
		if err != nil {
			if err == unix.EACCES || err == unix.EPERM {
				// The directory was listable but its links are not
				// (ptrace access denied): no descriptor of this process
				// can be read.
				s.denied = append(s.denied, pid)
				return false
			}
			continue // closed since getdents
		}
		ino, ok := ParseSocketLink(s.link[:n])
		if !ok {
			continue
		}
		if _, ok := s.want[ino]; !ok {
			continue
		}
		s.fds = append(s.fds, FD{Inode: ino, PID: pid, FD: fd})
		if s.found != nil {
			s.found.mark(ino)
		}
	}
}

// nextEntry splits the first struct linux_dirent64 off b and returns its
// name without the NUL; ok is false when b holds no whole record.
func nextEntry(b []byte) (name, rest []byte, ok bool) {
	if len(b) < direntName {
		return nil, nil, false
	}
	reclen := int(binary.NativeEndian.Uint16(b[direntReclen:]))
	if reclen < direntName || reclen > len(b) {
		return nil, nil, false
	}
	name = b[direntName:reclen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name, b[reclen:], true
}

// atoiName parses a directory entry name made of decimal digits (a PID or
// a descriptor number), and returns -1 for anything else.
func atoiName(name []byte) int {
	if len(name) == 0 || len(name) > 9 {
		return -1
	}
	n := 0
	for _, c := range name {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// listPIDs returns the numeric entries of an open /proc directory, in the
// order the kernel lists them (ascending).
func listPIDs(procfd int) ([]int, error) {
	if _, err := unix.Seek(procfd, 0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 32<<10)
	pids := make([]int, 0, 512)
	for {
		n, err := unix.Getdents(procfd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		for b := buf[:n]; ; {
			name, rest, ok := nextEntry(b)
			if !ok {
				break
			}
			b = rest
			if pid := atoiName(name); pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
}

// openat and readlinkat take NUL-terminated byte paths so that the walk
// does not allocate a string per process and per descriptor.
func openat(dirfd int, path []byte, flags int) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func readlinkat(dirfd int, path, buf []byte) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
