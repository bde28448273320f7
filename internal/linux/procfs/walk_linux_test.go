package procfs

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// listen opens a TCP listener on loopback and returns it with its fd and
// socket inode.
func listen(t *testing.T) (*net.TCPListener, *os.File, uint64) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File() // a dup: the process now holds the socket twice
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return ln, f, st.Ino
}

func fdOf(t *testing.T, ln *net.TCPListener) int {
	t.Helper()
	rc, err := ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

func sortFDs(a, b FD) int {
	if a.PID != b.PID {
		return a.PID - b.PID
	}
	return a.FD - b.FD
}

func TestWalkFindsEveryDescriptorOfOwnSocket(t *testing.T) {
	ln, f, ino := listen(t)
	res, err := Walk("/proc", map[uint64]struct{}{ino: {}}, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	want := []FD{{Inode: ino, PID: pid, FD: fdOf(t, ln)}, {Inode: ino, PID: pid, FD: int(f.Fd())}}
	if diff := cmp.Diff(want, res.FDs, cmpopts.SortSlices(func(a, b FD) bool { return sortFDs(a, b) < 0 })); diff != "" {
		t.Errorf("Walk found (-want +got):\n%s", diff)
	}
	if res.Processes < 2 || res.Stopped {
		t.Errorf("Walk result Processes=%d Stopped=%v; want an exhaustive walk over several processes", res.Processes, res.Stopped)
	}
}

func TestWalkFindsInheritedDescriptorInChild(t *testing.T) {
	_, f, ino := listen(t)
	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for _, workers := range []int{1, 2, 8} {
		res, err := Walk("/proc", map[uint64]struct{}{ino: {}}, WalkOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var pids []int
		for _, fd := range res.FDs {
			pids = append(pids, fd.PID)
			if fd.PID == cmd.Process.Pid && fd.FD != 3 {
				t.Errorf("child holds the socket as fd %d; want 3", fd.FD)
			}
		}
		if !slices.Contains(pids, os.Getpid()) || !slices.Contains(pids, cmd.Process.Pid) {
			t.Errorf("Walk(workers=%d) holders = %v; want parent %d and child %d", workers, pids, os.Getpid(), cmd.Process.Pid)
		}
	}
}

func TestWalkStopsEarlyWhenEveryInodeHasAHolder(t *testing.T) {
	_, _, ino := listen(t)
	// Children started after us have higher PIDs, so an ascending walk that
	// stops at our PID skips them all.
	var kids []*exec.Cmd
	for range 40 {
		c := exec.Command("sleep", "30")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, c)
	}
	t.Cleanup(func() {
		for _, c := range kids {
			c.Process.Kill()
			c.Wait()
		}
	})
	for _, c := range kids {
		if c.Process.Pid < os.Getpid() {
			t.Skip("PIDs wrapped around; the ordering this test relies on does not hold")
		}
	}
	full, err := Walk("/proc", map[uint64]struct{}{ino: {}}, WalkOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		early, err := Walk("/proc", map[uint64]struct{}{ino: {}}, WalkOptions{Workers: workers, StopWhenFound: true})
		if err != nil {
			t.Fatal(err)
		}
		if !early.Stopped || len(early.FDs) == 0 {
			t.Fatalf("early walk (workers=%d) = Stopped %v, %d fds; want stopped with a holder", workers, early.Stopped, len(early.FDs))
		}
		// One worker stops right after our process, before every child.
		// With two, how far the other one gets while ours reads our
		// process is up to the scheduler (all the way, on a busy machine),
		// so only the stop is checked.
		if workers == 1 && early.Processes > full.Processes-len(kids) {
			t.Errorf("early walk scanned %d of %d processes; want it to stop before the %d later children", early.Processes, full.Processes, len(kids))
		}
	}
}

func TestWalkWithNothingWantedScansNothing(t *testing.T) {
	res, err := Walk("/proc", nil, WalkOptions{})
	if err != nil || len(res.FDs) != 0 {
		t.Errorf("Walk(nil) = %+v, %v; want no descriptors and no error", res, err)
	}
}

func TestWalkBadRoot(t *testing.T) {
	if _, err := Walk("/nonexistent", map[uint64]struct{}{1: {}}, WalkOptions{}); err == nil {
		t.Error("Walk(/nonexistent) = nil error")
	}
}

func TestReaderOwnProcess(t *testing.T) {
	r := NewReader("/proc", "/etc/passwd")
	p, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if p.PID != os.Getpid() || p.PPID != os.Getppid() || p.Exe != exe || p.UID != uint32(os.Geteuid()) {
		t.Errorf("Process(self) = pid %d ppid %d exe %q uid %d; want %d %d %q %d", p.PID, p.PPID, p.Exe, p.UID, os.Getpid(), os.Getppid(), exe, os.Geteuid())
	}
	if len(p.Cmdline) == 0 || p.Cmdline[0] != os.Args[0] || p.Start.IsZero() || p.PIDNS == 0 || p.Cgroup == "" {
		t.Errorf("Process(self) = %+v; want cmdline, start time, pid namespace and cgroup", p)
	}
	if len(p.Unreadable) != 0 {
		t.Errorf("Process(self).Unreadable = %q; want nothing unreadable", p.Unreadable)
	}
	r.Ancestors(p)
	if len(p.Ancestors) == 0 || p.Ancestors[0].PID != os.Getppid() {
		t.Errorf("Ancestors = %+v; want the chain to start at our parent %d", p.Ancestors, os.Getppid())
	}
	if _, err := r.Process(1 << 30); err == nil {
		t.Error("Process(nonexistent) = nil error")
	}
}

func TestReaderDeletedExecutable(t *testing.T) {
	// Copy sleep, run the copy, delete it: the kernel appends " (deleted)".
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir() + "/sleepcopy"
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dst, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	os.Remove(dst)
	p, err := NewReader("/proc", "/etc/passwd").Process(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Exe != dst || !p.ExeDeleted {
		t.Errorf("Process(deleted exe) = Exe %q deleted %v; want %q, true", p.Exe, p.ExeDeleted, dst)
	}
}

func BenchmarkWalk(b *testing.B) {
	want := map[uint64]struct{}{1: {}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Walk("/proc", want, WalkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHeldDropsDescriptorsThatChanged(t *testing.T) {
	ln, f, ino := listen(t)
	lfd := fdOf(t, ln)
	r := NewReader("/proc", "/etc/passwd")
	closed, _ := os.Open("/dev/null")
	closedFD := int(closed.Fd())
	closed.Close()
	got := r.Held(os.Getpid(), []FD{
		{Inode: ino, PID: os.Getpid(), FD: lfd},             // still the socket
		{Inode: ino + 1, PID: os.Getpid(), FD: int(f.Fd())}, // another socket now
		{Inode: ino, PID: os.Getpid(), FD: closedFD},        // closed since
	})
	want := []FD{{Inode: ino, PID: os.Getpid(), FD: lfd}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Held (-want +got):\n%s", diff)
	}
	if got := r.Held(1<<30, want); len(got) != 0 {
		t.Errorf("Held(nonexistent pid) = %v; want nothing", got)
	}
}

// TestNowTicksAgreesWithStartTimes checks the clock that lets the engine
// trust processes started before a walk: a child started after NowTicks
// has a start time no earlier, and we started before it.
func TestNowTicksAgreesWithStartTimes(t *testing.T) {
	r := NewReader("/proc", "/etc/passwd")
	self, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	before, err := NowTicks()
	if err != nil {
		t.Fatal(err)
	}
	if self.StartTicks > before {
		t.Errorf("own start %d ticks is after now %d", self.StartTicks, before)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	child, err := r.Process(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := NowTicks()
	if child.StartTicks < before || child.StartTicks > after {
		t.Errorf("child start %d ticks; want between %d and %d (the clocks disagree)", child.StartTicks, before, after)
	}
}
