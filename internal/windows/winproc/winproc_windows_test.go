package winproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/windows/wine"
)

// parentPID asks NtQueryInformationProcess(ProcessBasicInformation) for this
// process's parent, independently of the Toolhelp snapshot List uses.
func parentPID(t *testing.T) int {
	t.Helper()
	var pbi windows.PROCESS_BASIC_INFORMATION
	var n uint32
	if err := windows.NtQueryInformationProcess(windows.CurrentProcess(), windows.ProcessBasicInformation, unsafe.Pointer(&pbi), uint32(unsafe.Sizeof(pbi)), &n); err != nil {
		t.Fatalf("NtQueryInformationProcess(ProcessBasicInformation) = %v", err)
	}
	return int(pbi.InheritedFromUniqueProcessId)
}

func TestList(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	want := Entry{PID: pid, PPID: parentPID(t), Name: filepath.Base(exe)}
	got, ok := all[pid]
	if !ok {
		t.Fatalf("List() has no PID %d (this test) among %d processes", pid, len(all))
	}
	if got.PID != want.PID || got.PPID != want.PPID || !strings.EqualFold(got.Name, want.Name) {
		t.Errorf("List()[%d] = %+v; want %+v", pid, got, want)
	}
}

func TestDetailsSelf(t *testing.T) {
	pid := os.Getpid()
	p := Details(pid, nil)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Unreadable) != 0 {
		t.Errorf("Details(%d).Unreadable = %q; want everything readable for the own process", pid, p.Unreadable)
	}
	if p.PID != pid || !strings.EqualFold(p.Name, filepath.Base(exe)) || p.PPID != parentPID(t) {
		t.Errorf("Details(%d) = PID %d, name %q, PPID %d; want %d, %q, %d", pid, p.PID, p.Name, p.PPID, pid, filepath.Base(exe), parentPID(t))
	}
	if !strings.EqualFold(p.Exe, exe) {
		t.Errorf("Details(%d).Exe = %q; want %q", pid, p.Exe, exe)
	}
	// The command line is the one this process was started with: go test
	// passes -test.paniconexit0, -test.timeout and the flags given to it.
	if len(p.Cmdline) == 0 || !slices.Equal(p.Cmdline[1:], os.Args[1:]) {
		t.Errorf("Details(%d).Cmdline = %q; want %q after the program", pid, p.Cmdline, os.Args[1:])
	}
	if !slices.ContainsFunc(p.Cmdline, func(a string) bool { return strings.HasPrefix(a, "-test.") }) {
		t.Errorf("Details(%d).Cmdline = %q; want the -test.* flags", pid, p.Cmdline)
	}
	if age := time.Since(p.Start); age < -time.Minute || age > time.Hour {
		t.Errorf("Details(%d).Start = %v (%v ago); want within the last hour", pid, p.Start, age)
	}
	if created, err := CreationTime(pid); err != nil || !created.Equal(p.Start) {
		t.Errorf("CreationTime(%d) = %v, %v; want %v", pid, created, err, p.Start)
	}
	if p.User == "" {
		t.Errorf("Details(%d).User is empty", pid)
	}
	if u, err := user.Current(); err == nil && !strings.EqualFold(u.Username, p.User) {
		t.Errorf("Details(%d).User = %q; os/user says %q", pid, p.User, u.Username)
	}
	t.Logf("Details(%d) = name %q, exe %q, user %q, start %v, PPID %d, ancestors %+v", pid, p.Name, p.Exe, p.User, p.Start, p.PPID, p.Ancestors)
	if p.UID != 0 || p.StartTicks != 0 || p.Cgroup != "" || p.PIDNS != 0 {
		t.Errorf("Details(%d) filled Linux fields: %+v", pid, p)
	}
}

func TestDetailsNoSuchProcess(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	// PIDs are multiples of 4; find one that is not in use.
	pid := 4 << 20
	for all[pid] != (Entry{}) {
		pid += 4
	}
	p := Details(pid, all)
	if !slices.ContainsFunc(p.Unreadable, func(s string) bool { return strings.Contains(s, "no such process") }) {
		t.Errorf("Details(%d).Unreadable = %q; want it to say there is no such process", pid, p.Unreadable)
	}
	if p.Name != "" || p.Exe != "" || len(p.Ancestors) != 0 {
		t.Errorf("Details(%d) = %+v; want nothing but the PID and the reason", pid, p)
	}
	if _, err := CreationTime(pid); err == nil {
		t.Errorf("CreationTime(%d) = nil error; want one (no such process)", pid)
	}
}

func TestDetailsSystem(t *testing.T) {
	for pid, name := range map[int]string{0: "System Idle Process", 4: "System"} {
		p := Details(pid, map[int]Entry{})
		if p.PID != pid || p.Name != name || len(p.Unreadable) != 0 || len(p.Ancestors) != 0 {
			t.Errorf("Details(%d) = %+v; want only the name %q", pid, p, name)
		}
	}
}

func TestDetailsChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper child: %v", err)
		}
	})
	child := cmd.Process.Pid
	// Wait until the child runs Go code. Windows fills in a new process's
	// command line before CreateProcess returns; Wine 8 has the new
	// process fill it in as it starts, so it reads as empty for a moment
	// (seen under load).
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("helper child %d: %v; want \"ready\"", child, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("helper child %d: not ready after a minute", child)
	}

	all, err := List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	p := Details(child, all)
	if len(p.Unreadable) != 0 {
		t.Errorf("Details(%d).Unreadable = %q; want everything readable for an own child", child, p.Unreadable)
	}
	if p.PPID != os.Getpid() {
		t.Errorf("Details(%d).PPID = %d; want %d (this test)", child, p.PPID, os.Getpid())
	}
	if len(p.Ancestors) == 0 {
		t.Fatalf("Details(%d).Ancestors is empty; want this test first", child)
	}
	first := p.Ancestors[0]
	if first.PID != os.Getpid() || !strings.EqualFold(first.Name, filepath.Base(exe)) || len(first.Cmdline) == 0 || !slices.Equal(first.Cmdline[1:], os.Args[1:]) {
		t.Errorf("Details(%d).Ancestors[0] = %+v; want PID %d, %s, %q", child, first, os.Getpid(), filepath.Base(exe), os.Args)
	}
	if !slices.Contains(p.Cmdline, "-test.run=^$") {
		t.Errorf("Details(%d).Cmdline = %q; want -test.run=^$", child, p.Cmdline)
	}
	t.Logf("child %d: ancestors %+v", child, p.Ancestors)
	if !wine.Detected() {
		// On Windows the chain of a process started from a console
		// reaches services or explorer; it never repeats a PID.
		seen := map[int]bool{child: true}
		for _, a := range p.Ancestors {
			if seen[a.PID] {
				t.Errorf("Details(%d).Ancestors repeats PID %d: %+v", child, a.PID, p.Ancestors)
			}
			seen[a.PID] = true
		}
	}
}
