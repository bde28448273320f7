package act

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
)

// TestFreeHelperProcess is not a test. With WB_FREE_HELPER set, the test
// binary runs it to become one of the processes the free tests free: it
// prints "READY ..." once it holds its socket and holds it until stdin
// closes or a signal ends it.
func TestFreeHelperProcess(t *testing.T) {
	mode := os.Getenv("WB_FREE_HELPER")
	if mode == "" {
		return
	}
	os.Exit(frHelperMain(mode))
}

func frHelperMain(mode string) int {
	addr := cmp.Or(os.Getenv("WB_FREE_ADDR"), "127.0.0.1:0")
	var ready []string
	switch mode {
	case "listen", "stubborn", "share":
		if mode == "stubborn" {
			signal.Ignore(syscall.SIGTERM)
		}
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		defer ln.Close()
		ready = append(ready, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		if mode == "share" {
			// Two children inherit the listener, as prefork workers do.
			f, err := ln.(*net.TCPListener).File()
			if err != nil {
				fmt.Println("ERROR", err)
				return 1
			}
			for range 2 {
				c := exec.Command("sleep", "600")
				c.ExtraFiles = []*os.File{f}
				if err := c.Start(); err != nil {
					fmt.Println("ERROR", err)
					return 1
				}
				ready = append(ready, strconv.Itoa(c.Process.Pid))
			}
			f.Close()
		}
	case "connect":
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		defer c.Close()
		ready = append(ready, strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port))
	default:
		fmt.Println("ERROR unknown helper", mode)
		return 1
	}
	fmt.Println("READY", strings.Join(ready, " "))
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// frHelper is a running helper process.
type frHelper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  []string // the words after READY
	exited chan struct{}
}

func (h *frHelper) pid() int { return h.cmd.Process.Pid }

// frStartHelper starts a helper and waits for it to hold its socket. It is
// reaped as soon as it exits, and ended when the test ends.
func frStartHelper(t *testing.T, mode string, env ...string) *frHelper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFreeHelperProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), "WB_FREE_HELPER="+mode), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &frHelper{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-h.exited
	})
	f := strings.Fields(line)
	if err != nil || len(f) == 0 || f[0] != "READY" {
		t.Fatalf("helper %s: %q, %v", mode, line, err)
	}
	h.ready = f[1:]
	return h
}

func (h *frHelper) gone() bool {
	select {
	case <-h.exited:
		return true
	default:
		return false
	}
}

// frAlive reports whether a process runs (and is not a zombie).
func frAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	st, err := procfs.ParseStat(b)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

func frKillAtEnd(t *testing.T, pids ...int) {
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func frFreer(t *testing.T) *Freer {
	t.Helper()
	eng, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return &Freer{Collect: eng.Collect, Timeout: 10 * time.Second}
}

// frBindable reports whether this process can listen on the port now.
func frBindable(port string) bool {
	ln, err := net.Listen("tcp4", "127.0.0.1:"+port)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func frPlanOne(t *testing.T, f *Freer, tgt string) Plan {
	t.Helper()
	plans, warnings, err := f.Plan(context.Background(), []target.Target{frTarget(t, tgt)})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Logf("warnings: %q", warnings)
	}
	return plans[0]
}

func frFreeOne(t *testing.T, f *Freer, p Plan) FreeResult {
	t.Helper()
	rs, err := f.Free(context.Background(), []Plan{p})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rs[0].Done {
		t.Logf("%s %s: ok %v: %s", d.Step.Kind, d.Step.Name, d.OK, d.Text)
	}
	return rs[0]
}

func frTerminated(p Plan) []int {
	var pids []int
	for _, s := range p.Steps {
		if s.Kind == Terminate {
			pids = append(pids, s.PID)
		}
	}
	return pids
}

// TestFreeSharedWithChildren frees a listener its process shares with
// two children (as a prefork server's workers): every holder is ended and
// the port is free.
func TestFreeSharedWithChildren(t *testing.T) {
	testutil.NeedCommand(t, "sleep")
	h := frStartHelper(t, "share")
	port := h.ready[0]
	kids := []int{}
	for _, s := range h.ready[1:] {
		pid, _ := strconv.Atoi(s)
		kids = append(kids, pid)
	}
	frKillAtEnd(t, kids...)
	f := frFreer(t)
	p := frPlanOne(t, f, "tcp/"+port)
	want := append([]int{h.pid()}, kids...)
	slices.Sort(want)
	if got := frTerminated(p); !slices.Equal(got, want) || p.Refused() {
		t.Fatalf("PlanFree(tcp/%s) ends %v, refusals %+v; want %v (the helper and both children), none", port, got, p.Refusals, want)
	}
	r := frFreeOne(t, f, p)
	if r.State != Freed {
		t.Fatalf("Free(tcp/%s) = %s, held by %+v; want freed", port, r.State, r.HeldBy)
	}
	<-h.exited
	for _, pid := range kids {
		testutil.WaitFor(t, fmt.Sprintf("child %d to be reaped", pid), func() bool { return !frAlive(pid) })
	}
	if !frBindable(port) {
		t.Errorf("port %s is not free after Free said freed", port)
	}
}

// TestFreeNeedsForceForAProcessIgnoringSIGTERM: without --force a process
// that ignores SIGTERM keeps the port and is reported as still running;
// with --force it is killed.
func TestFreeNeedsForceForAProcessIgnoringSIGTERM(t *testing.T) {
	h := frStartHelper(t, "stubborn")
	port := h.ready[0]
	f := frFreer(t)
	f.Timeout = time.Second
	r := frFreeOne(t, f, frPlanOne(t, f, "tcp/"+port))
	if r.State != StillHeld || len(r.CameBack) != 1 || r.CameBack[0].By != "still-running" || r.CameBack[0].Process.PID != h.pid() {
		t.Fatalf("Free without --force = %s, came back %+v; want still held by pid %d, still running", r.State, r.CameBack, h.pid())
	}
	if h.gone() {
		t.Fatal("the helper exited on SIGTERM; it was to ignore it")
	}
	f.Force = true
	r = frFreeOne(t, f, frPlanOne(t, f, "tcp/"+port))
	if r.State != Freed {
		t.Fatalf("Free with --force = %s, held by %+v; want freed", r.State, r.HeldBy)
	}
	<-h.exited
	if ws := h.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("helper ended with %v; want SIGKILL", h.cmd.ProcessState)
	}
}

// TestFreeNeverSignalsAReusedPID runs in a PID namespace of its own, where
// it can choose the next PID (ns_last_pid): between planning and
// signalling, the listener is killed and a new process takes its PID.
// free must notice the start time and signal nothing.
func TestFreeNeverSignalsAReusedPID(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	sleep := testutil.NeedCommand(t, "sleep")
	h := frStartHelper(t, "listen")
	port := h.ready[0]
	f := frFreer(t)
	p := frPlanOne(t, f, "tcp/"+port)
	if got := frTerminated(p); !slices.Equal(got, []int{h.pid()}) {
		t.Fatalf("plan ends %v; want [%d]", got, h.pid())
	}
	var usurper *exec.Cmd
	f.beforeOpen = func(s Step) {
		h.cmd.Process.Kill()
		<-h.exited
		// A later clock tick gives the usurper a start time of its own.
		for {
			now, err := procfs.NowTicks()
			if err != nil {
				t.Fatal(err)
			}
			if now > s.StartTicks+1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		for try := 0; try < 50 && usurper == nil; try++ {
			if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(s.PID-1)), 0); err != nil {
				testutil.Missing(t, "setting ns_last_pid: %v", err)
			}
			c := exec.Command(sleep, "600")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if c.Process.Pid == s.PID {
				usurper = c
				break
			}
			c.Process.Kill()
			c.Wait()
		}
		if usurper == nil {
			t.Fatalf("no new process got pid %d", s.PID)
		}
	}
	r := frFreeOne(t, f, p)
	if usurper == nil {
		t.Fatal("the hook did not run")
	}
	defer func() { usurper.Process.Kill(); usurper.Wait() }()
	if len(r.Done) != 1 || !strings.Contains(r.Done[0].Text, "not signalled") || !strings.Contains(r.Done[0].Text, "reused") {
		t.Errorf("step results = %+v; want the reused pid %d not signalled", r.Done, h.pid())
	}
	if !frAlive(usurper.Process.Pid) {
		t.Errorf("the process that reused pid %d is not running: it was signalled", h.pid())
	}
	if r.State != Freed {
		t.Errorf("Free = %s; want freed (the listener was killed)", r.State)
	}
}

// TestFreeRefusesPID1 runs as PID 1 of a PID namespace of its own and
// holds a listener: free refuses, with the explanation, and does nothing.
func TestFreeRefusesPID1(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	if os.Getpid() != 1 {
		t.Fatalf("pid %d; want 1 inside the new PID namespace", os.Getpid())
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	f := frFreer(t)
	p := frPlanOne(t, f, "tcp/"+port)
	if len(p.Refusals) != 1 || p.Refusals[0].PID != 1 || !strings.Contains(p.Refusals[0].Reason, "never kill PID 1 (init)") || p.Refusals[0].Instead == "" {
		t.Fatalf("plan refusals %+v; want PID 1 refused with the explanation and an alternative", p.Refusals)
	}
	if len(p.Steps) != 0 {
		t.Errorf("plan steps %+v; want none", p.Steps)
	}
	if r := frFreeOne(t, f, p); r.State != Refused || len(r.Done) != 0 {
		t.Errorf("Free = %+v; want refused, nothing done", r)
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+port)
	if err != nil {
		t.Errorf("the listener stopped answering: %v", err)
	} else {
		c.Close()
	}
}

// TestFreeRefusesAnotherPIDNamespace starts a server as PID 1 of a PID
// namespace of its own: seen from here, free refuses to end it and says
// which PID it has there.
func TestFreeRefusesAnotherPIDNamespace(t *testing.T) {
	testutil.NeedRoot(t)
	unshare := testutil.NeedCommand(t, "unshare")
	busybox := testutil.NeedCommand(t, "busybox")
	port := strconv.Itoa(testutil.FreePort(t))
	cmd := exec.Command(unshare, "--pid", "--fork", "--kill-child", "--mount-proc", busybox, "httpd", "-f", "-p", "127.0.0.1:"+port, "-h", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	testutil.WaitTCPListening(t, port) // the server in its PID namespace
	f := frFreer(t)
	p := frPlanOne(t, f, "tcp/"+port)
	if len(p.Refusals) != 1 || !strings.Contains(p.Refusals[0].Reason, "lives in another PID namespace (pid 1 there)") || len(p.Steps) != 0 {
		t.Fatalf("plan: steps %+v, refusals %+v; want the server refused as pid 1 of another PID namespace", p.Steps, p.Refusals)
	}
	if r := frFreeOne(t, f, p); r.State != Refused || frBindable(port) {
		t.Errorf("Free = %s, port bindable %v; want refused, still held", r.State, frBindable(port))
	}
}

// TestFreeRefusesAKernelSocket makes a vxlan device, whose UDP socket no
// process holds: free refuses and names the device and how to take it
// down; the device stays.
func TestFreeRefusesAKernelSocket(t *testing.T) {
	testutil.NeedKernel(t, "CONFIG_VXLAN")
	if !testutil.InNamespaces(t) {
		return
	}
	const port = "4789"
	for _, args := range [][]string{
		{"link", "add", "wbvx0", "type", "vxlan", "id", "42", "dstport", port, "local", "127.0.0.1"},
		{"link", "set", "wbvx0", "up"},
	} {
		testutil.Run(t, testutil.Sbin(t, "ip"), args...)
	}
	f := frFreer(t)
	p := frPlanOne(t, f, "udp/"+port)
	if len(p.Refusals) != 1 {
		t.Fatalf("plan refusals %+v; want one", p.Refusals)
	}
	r := p.Refusals[0]
	if !strings.Contains(r.Reason, "the kernel does, for the vxlan device wbvx0") || r.Command != "sudo ip link set wbvx0 down" {
		t.Errorf("refusal %+v; want the vxlan device named and `ip link set wbvx0 down`", r)
	}
	if res := frFreeOne(t, f, p); res.State != Refused {
		t.Errorf("Free = %s; want refused", res.State)
	}
	if _, err := net.InterfaceByName("wbvx0"); err != nil {
		t.Errorf("the vxlan device is gone: %v", err)
	}
}

// TestGatherFacts reads whobinds' own PID namespace, and asks systemd
// about a unit: either systemd answers, or a warning says why not.
func TestGatherFacts(t *testing.T) {
	sys := newFreeOS()
	snap := frSnapshot(frListener("127.0.0.1:1", 1, nil, model.Attribution{Kind: model.AttrUnit, PID: 7, Name: "whobinds-no-such-unit.service", Manager: "system"}))
	facts := sys.gather(context.Background(), snap)
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := procfs.ParseNSLink([]byte(link), "pid"); facts.PIDNS != want || facts.Self != os.Getpid() {
		t.Errorf("gather: PIDNS %d, Self %d; want %d, %d", facts.PIDNS, facts.Self, want, os.Getpid())
	}
	u, ok := facts.Units[UnitKey("system", "whobinds-no-such-unit.service")]
	switch {
	case ok && u.LoadState != "not-found":
		t.Errorf("systemd says %+v; want LoadState not-found", u)
	case !ok && len(facts.Warnings) == 0:
		t.Errorf("no facts about the unit and no warning")
	}
	t.Logf("facts %+v", facts)
}

// TestOpenChecksTheStartTime opens this test's own child with a wrong
// start time: refused as a reused PID, nothing signalled.
func TestOpenChecksTheStartTime(t *testing.T) {
	h := frStartHelper(t, "listen")
	sys := newFreeOS()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(h.pid()), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := procfs.ParseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.open(Step{Kind: Terminate, PID: h.pid(), StartTicks: st.StartTicks + 1}); !errors.Is(err, errFreeReused) {
		t.Errorf("open(pid %d, a later start) = %v; want errFreeReused", h.pid(), err)
	}
	pr, err := sys.open(Step{Kind: Terminate, PID: h.pid(), StartTicks: st.StartTicks})
	if err != nil {
		t.Fatalf("open(pid %d, its start) = %v", h.pid(), err)
	}
	defer pr.close()
	if h.gone() {
		t.Fatal("the helper exited before it was signalled")
	}
	if err := pr.terminate(); err != nil {
		t.Fatal(err)
	}
	if !pr.wait(time.Now().Add(time.Minute)) {
		t.Fatal("the helper did not exit on SIGTERM")
	}
	<-h.exited
	if err := pr.terminate(); !errors.Is(err, errFreeGone) {
		t.Errorf("signalling an exited process = %v; want errFreeGone", err)
	}
	if _, err := sys.open(Step{Kind: Terminate, PID: h.pid(), StartTicks: st.StartTicks}); err == nil {
		t.Errorf("open(pid %d) after it exited = nil error", h.pid())
	}
}

// TestFreeStopsTheContainer runs dockerd in namespaces of its own (its
// data in a tmpfs over /var/lib/docker, its socket under the private
// /run) and a container with a published port and restart policy
// "always": free plans to stop the container, not docker-proxy or
// dockerd, names the restart policy, and docker stop frees the port.
func TestFreeStopsTheContainer(t *testing.T) {
	testutil.NeedRoot(t)
	dockerd := testutil.Sbin(t, "dockerd")
	docker := testutil.NeedCommand(t, "docker")
	busybox := testutil.NeedCommand(t, "busybox")
	if !testutil.InNamespaces(t) {
		return
	}
	// Private copies of what the engine and dockerd read: the default data
	// root and /etc/docker (daemon.json may move the data root).
	for _, dir := range []string{"/var/lib/docker", "/etc/docker"} {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			dir = filepath.Dir(dir) // mounting over the parent hides nothing the test needs
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
		}
	}
	os.MkdirAll("/var/lib/docker", 0o711)
	if err := os.WriteFile("/etc/docker/daemon.json", []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Daemon(t, dockerd, "--config-file", "/etc/docker/daemon.json", "--storage-driver", "vfs",
		"--exec-opt", "native.cgroupdriver=cgroupfs", "--containerd-namespace", "whobinds-free", "--containerd-plugins-namespace", "whobinds-free-plugins")
	testutil.WaitFor(t, "dockerd to answer", func() bool {
		return exec.Command(docker, "version", "--format", "{{.Server.Version}}").Run() == nil
	})
	dir := t.TempDir()
	testutil.Run(t, docker, "import", frRootfs(t, busybox, dir), "whobinds-free:1")
	port := strconv.Itoa(testutil.FreePort(t))
	const name = "whobinds-free-web"
	testutil.Run(t, docker, "run", "-d", "--name", name, "--restart", "always", "-p", "127.0.0.1:"+port+":80",
		"whobinds-free:1", "/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/")
	testutil.WaitTCPListening(t, port) // the published port

	f := frFreer(t)
	f.Timeout = time.Minute
	p := frPlanOne(t, f, "tcp/"+port)
	if diff := frCmpStrings([]string{"stop-container " + name}, frStepKinds(p)); diff != "" || p.Refused() {
		t.Fatalf("plan steps (-want +got):\n%s\nrefusals %+v", diff, p.Refusals)
	}
	if len(p.Supervisors) != 1 || p.Supervisors[0].Kind != "container" || !strings.Contains(p.Supervisors[0].Text, "restart policy always") {
		t.Errorf("supervisors %+v; want the restart policy always named", p.Supervisors)
	}
	if r := frFreeOne(t, f, p); r.State != Freed {
		t.Fatalf("Free = %s, held by %+v; want freed", r.State, r.HeldBy)
	}
	if out := testutil.Run(t, docker, "inspect", "-f", "{{.State.Running}}", name); strings.TrimSpace(out) != "false" {
		t.Errorf("container running = %s; want false", out)
	}
	if !frBindable(port) {
		t.Errorf("port %s is not free", port)
	}
}

func frCmpStrings(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	return fmt.Sprintf("- %q\n+ %q", want, got)
}

// frRootfs writes a tar of a root file system holding a static busybox,
// for docker import.
func frRootfs(t *testing.T, busybox, dir string) string {
	t.Helper()
	f, err := elf.Open(busybox)
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			testutil.Missing(t, "%s is dynamically linked; install busybox-static", busybox)
		}
	}
	f.Close()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rootfs.tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := tar.NewWriter(out)
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))},
	} {
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := w.Write(bb); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}
