package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/linux/cgroup"
	"github.com/whobinds/whobinds/internal/model"
)

// clockTicks is USER_HZ, the unit of the start time in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Reader reads process details from /proc, caching them by PID for the
// life of one snapshot. It is not safe for concurrent use.
type Reader struct {
	root     string
	passwd   string
	bootTime int64
	users    map[uint32]string
	procs    map[int]*model.Process
	parents  map[int]parent
	buf      []byte
}

// NewReader returns a Reader over root (normally "/proc") that names users
// from the passwd file at passwd (normally "/etc/passwd").
func NewReader(root, passwd string) *Reader {
	return &Reader{root: root, passwd: passwd, procs: map[int]*model.Process{}, buf: make([]byte, 0, 4096)}
}

// Fork returns a Reader for another goroutine: same root and user names,
// its own cache and buffer. Merge its cache back with Merge.
func (r *Reader) Fork() *Reader {
	r.user(0) // load the user names once, to share them read-only
	return &Reader{root: r.root, passwd: r.passwd, bootTime: r.boot(), users: r.users, procs: map[int]*model.Process{}, buf: make([]byte, 0, 4096)}
}

// Merge adds the processes another Reader has read to r's cache.
func (r *Reader) Merge(o *Reader) {
	for pid, p := range o.procs {
		if _, ok := r.procs[pid]; !ok {
			r.procs[pid] = p
		}
	}
}

// Process returns the details of pid, read once and then cached. Fields
// that cannot be read are left empty and named in Unreadable; the error is
// non-nil only when the process does not exist (any more).
func (r *Reader) Process(pid int) (*model.Process, error) {
	if p, ok := r.procs[pid]; ok {
		if p == nil {
			return nil, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
		}
		return p, nil
	}
	p, err := r.read(pid)
	r.procs[pid] = p
	return p, err
}

func (r *Reader) read(pid int) (*model.Process, error) {
	// Every file is opened relative to the process's directory, so that
	// /proc/PID is resolved once.
	dir, err := unix.Open(filepath.Join(r.root, strconv.Itoa(pid)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, &fs.PathError{Op: "open", Path: filepath.Join(r.root, strconv.Itoa(pid)), Err: err})
	}
	defer unix.Close(dir)
	b, err := r.readFileAt(dir, "stat")
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	p := &model.Process{PID: pid, PPID: st.PPID, Name: st.Comm, StartTicks: st.StartTicks}
	if bt := r.boot(); bt > 0 {
		p.Start = time.Unix(bt, 0).Add(time.Duration(st.StartTicks) * time.Second / clockTicks)
	}
	unreadable := func(what string, err error) {
		p.Unreadable = append(p.Unreadable, what+": "+errText(err))
	}
	if b, err := r.readFileAt(dir, "status"); err != nil {
		unreadable("status", err)
	} else if s, err := ParseStatus(b); err != nil {
		unreadable("status", err)
	} else {
		p.UID = s.UID
		p.User = r.user(s.UID)
		if n := len(s.NSPID); n > 1 {
			p.NSPID = s.NSPID[n-1]
		}
	}
	if b, err := r.readFileAt(dir, "cmdline"); err != nil {
		unreadable("cmdline", err)
	} else {
		p.Cmdline = ParseCmdline(b)
	}
	if exe, err := r.readlinkAt(dir, "exe"); err != nil {
		if !st.KernelThread() && !errors.Is(err, fs.ErrNotExist) {
			unreadable("exe", err)
		}
	} else {
		p.Exe, p.ExeDeleted = strings.CutSuffix(exe, " (deleted)")
	}
	if b, err := r.readFileAt(dir, "cgroup"); err != nil {
		unreadable("cgroup", err)
	} else if path, err := cgroup.ParseProcCgroup(b); err != nil {
		unreadable("cgroup", err)
	} else {
		p.Cgroup = path
	}
	if l, err := r.readlinkAt(dir, "ns/pid"); err != nil {
		unreadable("pid namespace", err)
	} else if ino, ok := ParseNSLink([]byte(l), "pid"); ok {
		p.PIDNS = ino
	}
	return p, nil
}

// Ancestors fills p.Ancestors with the parent chain up to PID 1, nearest
// first, stopping at the first parent that cannot be read (e.g. outside our
// PID namespace, where the parent shows as PID 0). Of an ancestor only the
// name, parent and command line are read.
func (r *Reader) Ancestors(p *model.Process) {
	if p.Ancestors != nil {
		return
	}
	p.Ancestors = []model.Ancestor{}
	seen := map[int]bool{p.PID: true}
	for ppid := p.PPID; ppid > 0 && !seen[ppid]; {
		seen[ppid] = true
		a, next, ok := r.ancestor(ppid)
		if !ok {
			break
		}
		p.Ancestors = append(p.Ancestors, a)
		ppid = next
	}
}

// ancestor reads what a parent chain shows of pid, cached: from the full
// details when they were read, else from stat and cmdline alone.
func (r *Reader) ancestor(pid int) (model.Ancestor, int, bool) {
	if p, ok := r.procs[pid]; ok && p != nil {
		return model.Ancestor{PID: pid, Name: p.Name, Cmdline: p.Cmdline}, p.PPID, true
	}
	if a, ok := r.parents[pid]; ok {
		return a.Ancestor, a.ppid, a.ok
	}
	var e parent
	dir := filepath.Join(r.root, strconv.Itoa(pid))
	if b, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
		if st, err := ParseStat(b); err == nil {
			e = parent{Ancestor: model.Ancestor{PID: pid, Name: st.Comm}, ppid: st.PPID, ok: true}
			if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
				e.Cmdline = ParseCmdline(b)
			}
		}
	}
	if r.parents == nil {
		r.parents = map[int]parent{}
	}
	r.parents[pid] = e
	return e.Ancestor, e.ppid, e.ok
}

// parent is a cached ancestor.
type parent struct {
	model.Ancestor
	ppid int
	ok   bool
}

func (r *Reader) boot() int64 {
	if r.bootTime == 0 {
		r.bootTime = -1
		if b, err := os.ReadFile(filepath.Join(r.root, "stat")); err == nil {
			if t, err := ParseBootTime(b); err == nil {
				r.bootTime = t
			}
		}
	}
	return r.bootTime
}

func (r *Reader) user(uid uint32) string {
	if r.users == nil {
		r.users = map[uint32]string{}
		if f, err := os.Open(r.passwd); err == nil {
			if m, err := ParsePasswd(f); err == nil {
				r.users = m
			}
			f.Close()
		}
	}
	return r.users[uid]
}

// readFileAt reads a small /proc file relative to dir into the Reader's
// buffer with three system calls; the result is valid until the next call.
func (r *Reader) readFileAt(dir int, name string) ([]byte, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	b := r.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	r.buf = b
	return b, nil
}

func (r *Reader) readlinkAt(dir int, name string) (string, error) {
	var buf [4096]byte
	n, err := unix.Readlinkat(dir, name, buf[:])
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

func errText(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "gone"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Held returns the descriptors of fds (all of process pid) that still
// refer to their socket inode, reading their links relative to one open
// fd directory. Checked after reading a holder's details, it proves they
// belong to the holder: a PID cannot be reused while its process lives,
// and a new process with the same PID holds the socket only if it really
// does.
func (r *Reader) Held(pid int, fds []FD) []FD {
	dir, err := unix.Open(filepath.Join(r.root, strconv.Itoa(pid), "fd"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	var link [32]byte
	held := fds[:0:0]
	for _, fd := range fds {
		n, err := unix.Readlinkat(dir, strconv.Itoa(fd.FD), link[:])
		if err != nil {
			continue
		}
		if ino, ok := ParseSocketLink(link[:n]); ok && ino == fd.Inode {
			held = append(held, fd)
		}
	}
	return held
}

// NowTicks returns the time since boot in the unit and clock of the start
// time in /proc/PID/stat (clock ticks of CLOCK_BOOTTIME), for telling
// whether a process started before a given moment.
func NowTicks() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return uint64(ts.Sec)*clockTicks + uint64(ts.Nsec)/(1e9/clockTicks), nil
}
