package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat that whobinds uses.
type Stat struct {
	PID   int
	Comm  string
	State byte
	PPID  int
	// Flags are the kernel's task flags (PF_*); PF_KTHREAD marks kernel
	// threads.
	Flags uint64
	// StartTicks is when the process started, in clock ticks since boot.
	StartTicks uint64
}

// pfKthread is PF_KTHREAD from include/linux/sched.h.
const pfKthread = 0x00200000

// KernelThread reports whether the task is a kernel thread.
func (s Stat) KernelThread() bool { return s.Flags&pfKthread != 0 }

// ParseStat parses /proc/PID/stat (proc_pid_stat(5)). The command name is
// taken up to the last ')' because it may itself contain spaces and ')'.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return s, errors.New("stat: no (comm) field")
	}
	// The kernel writes "%d (%s) ": a positive PID, one space, then comm.
	head := b[:open]
	if head[len(head)-1] != ' ' {
		return s, fmt.Errorf("stat: want \"PID (comm)\", got %q", head)
	}
	pid, err := strconv.Atoi(string(head[:len(head)-1]))
	if err != nil || pid <= 0 || head[0] < '1' || head[0] > '9' {
		return s, fmt.Errorf("stat: pid %q is not a positive number", head[:len(head)-1])
	}
	s.PID = pid
	s.Comm = string(b[open+1 : close])
	// Fields after comm, numbered from 3 (state) as in proc_pid_stat(5).
	f := bytes.Fields(b[close+1:])
	const (
		fState = 3 - 3
		fPPID  = 4 - 3
		fFlags = 9 - 3
		fStart = 22 - 3
	)
	if len(f) <= fStart {
		return s, fmt.Errorf("stat: %d fields after comm, want at least %d", len(f), fStart+1)
	}
	if len(f[fState]) != 1 {
		return s, fmt.Errorf("stat: state %q", f[fState])
	}
	s.State = f[fState][0]
	if s.PPID, err = strconv.Atoi(string(f[fPPID])); err != nil {
		return s, fmt.Errorf("stat: ppid: %w", err)
	}
	if s.Flags, err = strconv.ParseUint(string(f[fFlags]), 10, 64); err != nil {
		return s, fmt.Errorf("stat: flags: %w", err)
	}
	if s.StartTicks, err = strconv.ParseUint(string(f[fStart]), 10, 64); err != nil {
		return s, fmt.Errorf("stat: starttime: %w", err)
	}
	return s, nil
}

// Status is the part of /proc/PID/status that whobinds uses.
type Status struct {
	// UID is the effective user ID.
	UID uint32
	// NSPID lists the PID in each nested PID namespace, outermost first.
	NSPID []int
}

// ParseStatus parses /proc/PID/status.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	var sawUID bool
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "Uid":
			f := bytes.Fields(val)
			if len(f) < 2 {
				return s, fmt.Errorf("status: Uid line %q", bytes.TrimSpace(line))
			}
			u, err := strconv.ParseUint(string(f[1]), 10, 32)
			if err != nil {
				return s, fmt.Errorf("status: Uid: %w", err)
			}
			s.UID, sawUID = uint32(u), true
		case "NSpid":
			for _, f := range bytes.Fields(val) {
				n, err := strconv.Atoi(string(f))
				if err != nil {
					return s, fmt.Errorf("status: NSpid: %w", err)
				}
				s.NSPID = append(s.NSPID, n)
			}
		}
	}
	if !sawUID {
		return s, errors.New("status: no Uid line")
	}
	return s, nil
}

// ParseCmdline splits /proc/PID/cmdline into arguments. Kernel threads and
// zombies have an empty command line: nil.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// socketPrefix is how a socket descriptor's link reads: "socket:[12345]".
const socketPrefix = "socket:["

// ParseSocketLink returns the inode of a descriptor link target such as
// "socket:[12345]", and false for anything else.
func ParseSocketLink(b []byte) (uint64, bool) {
	if len(b) < len(socketPrefix)+2 || string(b[:len(socketPrefix)]) != socketPrefix || b[len(b)-1] != ']' {
		return 0, false
	}
	var n uint64
	for _, c := range b[len(socketPrefix) : len(b)-1] {
		if c < '0' || c > '9' || n > (1<<64-1)/10-1 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// ParseNSLink returns the inode of a namespace link such as "net:[4026531840]".
func ParseNSLink(b []byte, kind string) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(kind+":["))
	if !ok {
		return 0, false
	}
	rest, ok = bytes.CutSuffix(rest, []byte("]"))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(string(rest), 10, 64)
	return n, err == nil
}

// ParseBootTime returns the btime line of /proc/stat: seconds since the
// epoch at which the system booted.
func ParseBootTime(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, errors.New("stat: no btime line")
}

// ParsePasswd reads a passwd(5) file into a UID → name map. Malformed lines
// are skipped: one bad entry must not hide every user name.
func ParsePasswd(r io.Reader) (map[uint32]string, error) {
	m := map[uint32]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(uid)]; !dup {
			m[uint32(uid)] = f[0]
		}
	}
	return m, sc.Err()
}
