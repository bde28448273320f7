package dcerpc

// Lookup against a real endpoint mapper: Samba's samba-dcerpcd, run in a
// network namespace this test creates with only lo, compared with Impacket
// (testdata/epm_reference.py) and with the listening sockets ss reports in
// that namespace.
//
// Needs root, iproute2 (ip, ss), Debian's samba (samba-dcerpcd and its
// rpcd_* helpers) and python3-impacket for /usr/bin/python3.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/testutil"
)

const sambaDcerpcd = "/usr/libexec/samba/samba-dcerpcd"

func TestSambaEndpointMapper(t *testing.T) {
	testutil.NeedRoot(t)
	ip := testutil.NeedCommand(t, "ip")
	ss := testutil.NeedCommand(t, "ss")
	if _, err := os.Stat(sambaDcerpcd); err != nil {
		testutil.Missing(t, "%s not installed (Debian package samba): %v", sambaDcerpcd, err)
	}
	python := impacketPython(t)
	start := time.Now()

	ns := newNetns(t, ip, "wbdce")
	pid := startDcerpcd(t, ip, ns)
	t.Logf("samba-dcerpcd (pid %d) ready after %v", pid, time.Since(start).Round(time.Millisecond))
	entries := checkMap(t, mapCheck{ip: ip, ss: ss, python: python, ns: ns, root: pid})

	// Small fragments: Samba splits the same map into fragments of 2048
	// bytes. (It sends 2048-byte fragments even to a client that offers a
	// smaller max_recv_frag, such as C706's minimum 1432.)
	small, err := lookupIn(t, ns, Limits{MaxFragment: 2048})
	if err != nil {
		t.Errorf("Lookup with MaxFragment 2048 = %v", err)
	} else if !slices.Equal(referenceLines(small), referenceLines(entries)) {
		t.Errorf("Lookup with MaxFragment 2048 = %q; want %q", referenceLines(small), referenceLines(entries))
	}

	// A limit below the map's size ends with ErrLimit.
	if _, err := lookupIn(t, ns, Limits{MaxEntries: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("Lookup with MaxEntries 5 = %v; want ErrLimit", err)
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// TestSambaADDCEndpointMapper runs a provisioned Samba AD domain
// controller, whose map looks like a Windows DC's (netlogon, drsuapi,
// lsarpc, samr on dynamic ports, served by prefork workers).
func TestSambaADDCEndpointMapper(t *testing.T) {
	testutil.NeedRoot(t)
	ip := testutil.NeedCommand(t, "ip")
	ss := testutil.NeedCommand(t, "ss")
	tool := testutil.NeedCommand(t, "samba-tool")
	samba := "/usr/sbin/samba"
	for _, p := range []string{samba, "/usr/share/samba/setup/ad-schema"} {
		if _, err := os.Stat(p); err != nil {
			testutil.Missing(t, "%s missing (Debian packages samba-ad-dc, samba-ad-provision): %v", p, err)
		}
	}
	python := impacketPython(t)
	start := time.Now()

	conf := provisionDC(t, tool)
	t.Logf("provisioned in %v", time.Since(start).Round(time.Millisecond))
	ns := newNetns(t, ip, "wbdc")
	pid, exited := startProcessGroup(t, exec.Command(ip, "netns", "exec", ns, samba, "--foreground",
		"--configfile="+conf, "--debug-stdout", "--debuglevel=1"))

	// samba has no ready signal: wait until the map answers and stays the
	// same for a second (its services register as they start).
	var last []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		entries, err := lookupIn(t, ns, Limits{})
		lines := referenceLines(entries)
		if err == nil && len(lines) > 0 && slices.Equal(lines, last) {
			break
		}
		last = lines
		select {
		case <-exited:
			t.Fatalf("samba exited before its endpoint map answered (last lookup: %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("samba AD DC: no stable endpoint map after 90 s; last lookup: %d entries, %v", len(entries), err)
		}
	}
	t.Logf("samba (pid %d) answered after %v", pid, time.Since(start).Round(time.Millisecond))
	entries := checkMap(t, mapCheck{ip: ip, ss: ss, python: python, ns: ns, root: pid})
	// What makes it a DC: netlogon and directory replication on TCP.
	for _, want := range []string{"MS-NRPC (logon)", "MS-DRSR (drsuapi)"} {
		if !slices.ContainsFunc(entries, func(e Entry) bool { return e.Protocol == ProtoTCP && e.Name() == want }) {
			t.Errorf("the DC's map has no %s on TCP: %q", want, referenceLines(entries))
		}
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// provisionDC provisions an AD domain into a temporary directory, with
// every directory Samba writes to inside it, and returns its smb.conf.
func provisionDC(t *testing.T, tool string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"domain", "provision", "--realm=WB.TEST", "--domain=WB", "--server-role=dc",
		"--dns-backend=NONE", "--adminpass=Wb-" + strconv.Itoa(os.Getpid()) + "-Passw0rd!", "--host-name=wbdc",
		"--targetdir=" + dir, "--option=interfaces=lo", "--option=bind interfaces only=yes",
		"--option=log file=" + filepath.Join(dir, "log.%m")}
	// Samba creates these itself, with the permissions it insists on.
	for _, d := range []string{"pid directory", "ncalrpc dir", "winbindd socket directory", "ntp signd socket directory", "usershare path"} {
		args = append(args, "--option="+d+"="+filepath.Join(dir, strings.ReplaceAll(d, " ", "-")))
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("samba-tool domain provision: %v\n%s", err, out)
	}
	return filepath.Join(dir, "etc", "smb.conf")
}

// lookupIn runs Lookup on 127.0.0.1:135 inside the namespace.
func lookupIn(t *testing.T, ns string, lim Limits) ([]Entry, error) {
	t.Helper()
	var entries []Entry
	var err error
	inNetns(t, ns, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		entries, err = Lookup(ctx, "127.0.0.1:135", lim)
	})
	return entries, err
}

type mapCheck struct {
	ip, ss, python string
	ns             string
	// root is the server's main process; listeners must be held by it or
	// its descendants.
	root int
}

// checkMap compares whobinds' map of the namespace's endpoint mapper with
// Impacket's, and its TCP endpoints with the listeners of the server's
// processes. It returns whobinds' entries.
func checkMap(t *testing.T, c mapCheck) []Entry {
	t.Helper()
	// Impacket first: if the map grew between the two lookups, whobinds'
	// would still have to hold every entry of the reference.
	out, err := exec.Command(c.ip, "netns", "exec", c.ns, c.python, "testdata/epm_reference.py", "127.0.0.1", "135").Output()
	if err != nil {
		t.Fatalf("epm_reference.py: %v: %s", err, stderrOf(err))
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) < 10 {
		t.Fatalf("Impacket listed only %d entries: %q", len(want), out)
	}
	entries, err := lookupIn(t, c.ns, Limits{})
	if err != nil {
		t.Fatalf("Lookup(127.0.0.1:135) in netns %s = %v", c.ns, err)
	}
	t.Logf("Impacket: %d entries; whobinds: %d", len(want), len(entries))
	got := referenceLines(entries)
	for _, line := range want {
		if i := slices.Index(got, line); i >= 0 {
			got = slices.Delete(got, i, i+1)
			continue
		}
		t.Errorf("Impacket lists %q; whobinds' map does not have it", line)
	}
	if len(got) > 0 {
		t.Logf("entries whobinds lists beyond Impacket's: %q", got)
	}

	// Every TCP endpoint is a socket that the server's processes listen
	// on. A tower address of 0.0.0.0 means any of the server's IPv4
	// addresses.
	listeners := listenersIn(t, c.ip, c.ss, c.ns)
	tcp := 0
	for _, e := range entries {
		if e.Protocol != ProtoTCP {
			continue
		}
		tcp++
		var owners []string
		for _, l := range listeners {
			ipv4 := strings.Contains(l.addr, ".")
			if l.port != e.Port || !(l.addr == e.Host || l.addr == "*" || l.addr == "0.0.0.0" || (e.Host == "0.0.0.0" && ipv4)) {
				continue
			}
			for _, u := range l.users {
				if descendsFrom(u.pid, c.root) {
					owners = append(owners, fmt.Sprintf("%s[%d]", u.name, u.pid))
				}
			}
		}
		if len(owners) == 0 {
			t.Errorf("%s (%s): no process of server %d listens on %s:%d; listeners: %+v",
				e.Binding(), e.Annotation, c.root, e.Host, e.Port, listeners)
		} else {
			t.Logf("%s %s: %s", e.Binding(), e.Name(), strings.Join(owners, ", "))
		}
	}
	if tcp == 0 {
		t.Errorf("no ncacn_ip_tcp entries in the map: %q", referenceLines(entries))
	}
	return entries
}

// impacketPython returns a python3 that can import impacket. Debian's
// python3-impacket installs for /usr/bin/python3, which may not be the
// first python3 on PATH.
func impacketPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import impacket.dcerpc.v5.epm").Run() == nil {
			return p
		}
	}
	testutil.Missing(t, "no python3 can import impacket (Debian package python3-impacket)")
	return ""
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// newNetns creates a network namespace with only lo, up, and deletes it
// when the test ends.
func newNetns(t *testing.T, ip, prefix string) string {
	t.Helper()
	name := prefix + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		testutil.Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	if out, err := exec.Command(ip, "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return name
}

// startDcerpcd runs samba-dcerpcd with every rpcd_* helper in the
// namespace, with its configuration and state in a temporary directory,
// and returns its PID once it says it is ready.
func startDcerpcd(t *testing.T, ip, ns string) int {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "smb.conf")
	var b strings.Builder
	b.WriteString(`[global]
	netbios name = WBTEST
	workgroup = WBTEST
	server role = standalone server
	interfaces = lo
	bind interfaces only = yes
	rpc start on demand helpers = no
`)
	for _, d := range []string{"lock directory", "state directory", "cache directory", "pid directory", "private dir", "ncalrpc dir"} {
		p := filepath.Join(dir, strings.Fields(d)[0])
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\t%s = %s\n", d, p)
	}
	fmt.Fprintf(&b, "\tlog file = %s\n", filepath.Join(dir, "log.%m"))
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ready, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ready.Close()
	cmd := exec.Command(ip, "netns", "exec", ns, sambaDcerpcd, "--libexec-rpcds", "--foreground",
		"--configfile="+conf, "--debug-stdout", "--debuglevel=1", "--ready-signal-fd=3")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	pid, _ := startProcessGroup(t, cmd)
	w.Close()

	// samba-dcerpcd writes a byte to the ready fd once its listeners are up.
	got := make(chan error, 1)
	go func() {
		_, err := ready.Read(make([]byte, 1))
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("samba-dcerpcd did not get ready: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("samba-dcerpcd not ready after 60 s")
	}
	return pid
}

// startProcessGroup starts a daemon in the foreground in a process group
// of its own and returns its PID and a channel closed when it exits. When the test ends the group is stopped
// and, if the test failed, the daemon's output logged.
//
// Standard input is /dev/null: samba-dcerpcd in the foreground with a pipe
// or a file at EOF on standard input never opens its listeners.
func startProcessGroup(t *testing.T, cmd *exec.Cmd) (int, <-chan struct{}) {
	t.Helper()
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// ip netns exec execs the daemon, so the PID is the daemon's.
	leader := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(-leader, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		// Whatever is left of the group (workers that outlived the
		// daemon) is killed; the group's PIDs are ours.
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			live := 0
			for _, p := range groupMembers(leader) {
				if f := statFields(p); len(f) > 0 && f[0] != "Z" {
					syscall.Kill(p, syscall.SIGKILL)
					live++
				}
			}
			if live == 0 {
				break
			}
		}
		<-exited
		if t.Failed() {
			t.Logf("%s\noutput:\n%s", strings.Join(cmd.Args, " "), log.String())
		}
	})
	return leader, exited
}

// inNetns runs f on an OS thread that has joined the named network
// namespace. The thread is never unlocked, so it exits with its goroutine
// instead of going back to the scheduler in the wrong namespace. f must
// not create sockets on other goroutines.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	path := "/run/netns/" + name
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var want unix.Stat_t
	if err := unix.Fstat(fd, &want); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), &st); err != nil || st.Ino != want.Ino {
			errc <- fmt.Errorf("thread not in netns %s after setns (inode %d, want %d): %v", name, st.Ino, want.Ino, err)
			return
		}
		f()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

type listener struct {
	addr  string
	port  uint16
	users []user
}

type user struct {
	name string
	pid  int
}

var ssUser = regexp.MustCompile(`\("([^"]*)",pid=(\d+),fd=\d+\)`)

// listenersIn lists the TCP listeners of a namespace with their processes
// (ss -tlnpH).
func listenersIn(t *testing.T, ip, ss, ns string) []listener {
	t.Helper()
	out, err := exec.Command(ip, "netns", "exec", ns, ss, "-tlnpH").Output()
	if err != nil {
		t.Fatalf("ss -tlnpH in %s: %v: %s", ns, err, stderrOf(err))
	}
	var ls []listener
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		i := strings.LastIndexByte(f[3], ':')
		port, err := strconv.ParseUint(f[3][i+1:], 10, 16)
		if i < 0 || err != nil {
			t.Fatalf("ss line %q: bad local address", sc.Text())
		}
		l := listener{addr: strings.Trim(f[3][:i], "[]"), port: uint16(port)}
		for _, m := range ssUser.FindAllStringSubmatch(strings.Join(f[5:], " "), -1) {
			pid, _ := strconv.Atoi(m[2])
			l.users = append(l.users, user{m[1], pid})
		}
		ls = append(ls, l)
	}
	return ls
}

// groupMembers lists the processes of a process group, zombies included.
func groupMembers(pgid int) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statFields returns the fields of /proc/PID/stat after the command name:
// state, ppid, pgrp, ...
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The command name may hold spaces and parentheses.
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
}

// descendsFrom reports whether pid is root or one of its descendants.
func descendsFrom(pid, root int) bool {
	for range 64 {
		if pid == root {
			return true
		}
		if pid <= 1 {
			return false
		}
		f := statFields(pid)
		if len(f) < 2 {
			return false
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return false
}
