package engine

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
)

func TestOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	snap := collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))})
	s := socketAt(t, snap, model.TCP, port)
	want := []model.Holder{{PID: os.Getpid(), FDs: []int{fdOf(t, ln.(*net.TCPListener))}}}
	if diff := cmp.Diff(want, s.Holders, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Process" }, cmp.Ignore())); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
	if s.Inode != inodeOf(t, ln.(*net.TCPListener)) || s.State != model.Listen || s.UID != uint32(os.Geteuid()) {
		t.Errorf("socket = inode %d state %v uid %d; want inode %d LISTEN uid %d", s.Inode, s.State, s.UID, inodeOf(t, ln.(*net.TCPListener)), os.Geteuid())
	}
	p := s.Holders[0].Process
	exe, _ := os.Executable()
	if p == nil || p.Exe != exe || p.PPID != os.Getppid() || p.Start.IsZero() || len(p.Cmdline) == 0 {
		t.Errorf("holder process = %+v; want our executable %s, parent %d, start time and command line", p, exe, os.Getppid())
	}
	if s.NetNS.Inode == 0 || s.NetNS.Inode != snap.Host.NetNS.Inode {
		t.Errorf("socket netns = %+v; want ours, %+v", s.NetNS, snap.Host.NetNS)
	}
}

// mustT builds targets tersely.
type mustT []string

func (mustT) of(t *testing.T, ss ...string) []target.Target {
	var out []target.Target
	for _, s := range ss {
		out = append(out, mustTarget(t, s))
	}
	return out
}

func TestChildSharesParentsListener(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File()
	defer f.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()

	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}), model.TCP, port)
	got := holderPIDs(s)
	want := []int{os.Getpid(), child.Process.Pid}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("holders = %v; want parent and child %v", got, want)
	}
	for _, h := range s.Holders {
		if h.PID == child.Process.Pid && !slices.Equal(h.FDs, []int{3}) {
			t.Errorf("child holds fds %v; want [3]", h.FDs)
		}
		if h.PID == child.Process.Pid && (h.Process == nil || h.Process.Name != "sleep" || len(h.Process.Ancestors) == 0 || h.Process.Ancestors[0].PID != os.Getpid()) {
			t.Errorf("child process = %+v; want sleep started by us", h.Process)
		}
	}
	// The child was started by a holder of the same socket (a prefork
	// worker by its master): its parent chain is not news.
	for _, a := range s.Attributions {
		if a.Kind == model.AttrStartedBy && a.PID == child.Process.Pid {
			t.Errorf("attribution %+v: the child's parent holds the same socket", a)
		}
	}
}

func TestSocketPassedOverUnixSocket(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	path := filepath.Join(t.TempDir(), "pass.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ul.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		rights := syscall.UnixRights(fdOf(t, ln.(*net.TCPListener)))
		_, _, err = c.(*net.UnixConn).WriteMsgUnix([]byte{0}, rights, nil)
		done <- err
	}()
	// The receiver gets no descriptor at start: it is handed one later.
	h := startHelper(t, "recvfd", []string{"WB_UNIX=" + path})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recvFD, _ := strconv.Atoi(h.Ready)

	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}), model.TCP, port)
	if got := holderPIDs(s); !slices.Contains(got, os.Getpid()) || !slices.Contains(got, h.pid()) {
		t.Fatalf("holders = %v; want us (%d) and the receiver (%d)", got, os.Getpid(), h.pid())
	}
	// Once we close ours, the receiver alone holds the listener.
	ln.Close()
	s = socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}), model.TCP, port)
	if len(s.Holders) != 1 || s.Holders[0].PID != h.pid() || !slices.Equal(s.Holders[0].FDs, []int{recvFD}) {
		t.Errorf("after close, holders = %+v; want only pid %d fd %d", s.Holders, h.pid(), recvFD)
	}
}

func TestUDPAndIPv6(t *testing.T) {
	u4, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u4.Close()
	u6, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer u6.Close()
	v6only, err := net.Listen("tcp6", "[::1]:0") // Go sets IPV6_V6ONLY for tcp6
	if err != nil {
		t.Fatal(err)
	}
	defer v6only.Close()
	dual, err := net.Listen("tcp", "[::]:0") // and clears it for tcp on [::]
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()

	ports := []int{u4.LocalAddr().(*net.UDPAddr).Port, u6.LocalAddr().(*net.UDPAddr).Port, v6only.Addr().(*net.TCPAddr).Port, dual.Addr().(*net.TCPAddr).Port}
	var targets []string
	for _, p := range ports {
		targets = append(targets, strconv.Itoa(p))
	}
	snap := collect(t, Query{Targets: mustT{}.of(t, targets...)})
	tests := []struct {
		name   string
		proto  model.Proto
		port   int
		local  string
		state  model.State
		v6only model.Tristate
		inode  uint64
	}{
		{"udp4", model.UDP, ports[0], "127.0.0.1", model.Close, model.Unknown, inodeOf(t, u4.(*net.UDPConn))},
		{"udp6", model.UDP, ports[1], "::1", model.Close, model.Yes, inodeOf(t, u6.(*net.UDPConn))},
		{"tcp6 v6only", model.TCP, ports[2], "::1", model.Listen, model.Yes, inodeOf(t, v6only.(*net.TCPListener))},
		{"tcp dual-stack", model.TCP, ports[3], "::", model.Listen, model.No, inodeOf(t, dual.(*net.TCPListener))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socketByInode(t, snap, tt.inode)
			if s.Local.Addr().String() != tt.local || s.State != tt.state || s.V6Only != tt.v6only || s.Inode != tt.inode {
				t.Errorf("socket = %s %v v6only=%v inode %d; want %s %v v6only=%v inode %d", s.Local.Addr(), s.State, s.V6Only, s.Inode, tt.local, tt.state, tt.v6only, tt.inode)
			}
			if got := holderPIDs(s); !slices.Equal(got, []int{os.Getpid()}) {
				t.Errorf("holders = %v; want [%d]", got, os.Getpid())
			}
		})
	}
	// -t/-u and -4/-6 select.
	for _, s := range collect(t, Query{UDP: true, IPv6: true, Targets: mustT{}.of(t, targets...)}).Sockets {
		if s.Proto != model.UDP || s.Family() != 6 {
			t.Errorf("UDP+IPv6 query returned %s%d %v", s.Proto, s.Family(), s.Local)
		}
	}
}

func TestAllStatesShowsConnections(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	listening := collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))})
	if len(listening.Sockets) != 1 {
		t.Errorf("default query = %d sockets on port %d; want the listener only", len(listening.Sockets), port)
	}
	all := collect(t, Query{AllStates: true, Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))})
	var states []string
	for _, s := range all.Sockets {
		states = append(states, s.State.String())
		if len(s.Holders) != 1 || s.Holders[0].PID != os.Getpid() {
			t.Errorf("%v socket holders = %v; want us", s.State, holderPIDs(&s))
		}
	}
	// The client's end has an ephemeral local port; only the listener and
	// the accepted end sit on the target port.
	if !slices.Equal(states, []string{"LISTEN", "ESTAB"}) {
		t.Errorf("-a states on port %d = %v; want [LISTEN ESTAB]", port, states)
	}
}

// netnsWithListener creates a network namespace, starts a listener inside
// it and returns the namespace name, the helper and its port.
func netnsWithListener(t *testing.T) (string, *helper, int) {
	t.Helper()
	testutil.NeedRoot(t)
	ip := testutil.NeedCommand(t, "ip")
	name := "wbeng" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		testutil.Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	if out, err := exec.Command(ip, "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	h := startHelper(t, "listen", []string{"WB_ADDR=tcp4:127.0.0.1:0"}, ip, "netns", "exec", name)
	port, _ := strconv.Atoi(h.Ready)
	return name, h, port
}

func TestListenerInOtherNetNSNeedsAllNetNS(t *testing.T) {
	name, h, port := netnsWithListener(t)
	targets := mustT{}.of(t, "tcp/"+strconv.Itoa(port))
	for _, s := range collect(t, Query{Targets: targets}).Sockets {
		if slices.Contains(holderPIDs(&s), h.pid()) {
			t.Fatalf("without --all-netns the listener of netns %s was found: %+v", name, s)
		}
	}
	snap := collect(t, Query{Targets: targets, AllNetNS: true})
	var s *model.Socket
	for i := range snap.Sockets {
		if slices.Contains(holderPIDs(&snap.Sockets[i]), h.pid()) {
			s = &snap.Sockets[i]
		}
	}
	if s == nil {
		t.Fatalf("--all-netns did not find the listener on port %d held by pid %d in netns %s; got %+v", port, h.pid(), name, snap.Sockets)
	}
	if s.NetNS.Name != name || s.NetNS.Inode == snap.Host.NetNS.Inode {
		t.Errorf("socket netns = %+v; want %q, not ours (%d)", s.NetNS, name, snap.Host.NetNS.Inode)
	}
	if !slices.ContainsFunc(snap.Host.Namespaces, func(n model.NetNS) bool { return n.Name == name }) {
		t.Errorf("Host.Namespaces = %+v; want %s among them", snap.Host.Namespaces, name)
	}
}

func TestVXLANSocketIsKernelOwned(t *testing.T) {
	testutil.NeedKernel(t, "CONFIG_VXLAN")
	name, _, _ := netnsWithListener(t)
	const port = 4799
	for _, args := range [][]string{
		{"link", "add", "wbvx0", "type", "vxlan", "id", "42", "dstport", strconv.Itoa(port), "local", "127.0.0.1"},
		{"link", "set", "wbvx0", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	snap := collect(t, Query{AllNetNS: true, Targets: mustT{}.of(t, "udp/"+strconv.Itoa(port))})
	var s *model.Socket
	for i := range snap.Sockets {
		if snap.Sockets[i].NetNS.Name == name {
			s = &snap.Sockets[i]
		}
	}
	if s == nil {
		t.Fatalf("no udp/%d socket in netns %s: %+v", port, name, snap.Sockets)
	}
	a, ok := findAttr(s, model.AttrKernel)
	if len(s.Holders) != 0 || !ok || a.Name != "wbvx0" || a.Manager != "vxlan" || s.Hidden != "" {
		t.Errorf("vxlan socket: holders %v, hidden %q, attributions %+v; want no holder, kernel-owned by vxlan wbvx0", holderPIDs(s), s.Hidden, s.Attributions)
	}
}

func TestSocketActivation(t *testing.T) {
	activate := testutil.NeedCommand(t, "systemd-socket-activate")
	for _, accept := range []bool{false, true} {
		port := testutil.FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		name := "first-connection"
		if accept {
			name = "accept"
		}
		t.Run(name, func(t *testing.T) {
			// The activator passes only -E variables on: without it the
			// test binary would run the whole suite instead of the helper.
			args := []string{activate, "-l", addr, "-E", "WB_HELPER=activated"}
			if accept {
				args = append(args, "--accept")
			}
			args = append(args, os.Args[0])
			cmd := exec.Command(args[0], args[1:]...)
			stdin, _ := cmd.StdinPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
			q := Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}
			waitFor(t, func() bool { return len(collect(t, Query{Targets: q.Targets, SocketsOnly: true}).Sockets) == 1 })

			s := socketAt(t, collect(t, q), model.TCP, port)
			a, ok := findAttr(s, model.AttrSocketActivation)
			if !slices.Equal(holderPIDs(s), []int{cmd.Process.Pid}) || !ok || a.Manager != "systemd-socket-activate" || a.Service != os.Args[0] {
				t.Fatalf("before a connection: holders %v, attributions %+v; want the activator %d, starting %s", holderPIDs(s), s.Attributions, cmd.Process.Pid, os.Args[0])
			}

			conn, err := net.Dial("tcp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if accept {
				// The activator keeps the listener and runs a child per
				// connection, which holds the accepted socket.
				waitFor(t, func() bool {
					s := socketAt(t, collect(t, q), model.TCP, port)
					a, _ := findAttr(s, model.AttrSocketActivation)
					return strings.Contains(a.Detail, "running now")
				})
				// The child moves the connection to fd 3 between fork and
				// exec; a walk in that moment can miss it, as any /proc
				// walk would. Wait for it to settle.
				waitFor(t, func() bool {
					all := collect(t, Query{AllStates: true, Targets: q.Targets})
					for _, s := range all.Sockets {
						if s.State == model.Established && len(s.Holders) == 1 && s.Holders[0].Process != nil && s.Holders[0].Process.PPID == cmd.Process.Pid {
							return true
						}
					}
					return false
				})
				return
			}
			// Without --accept the activator becomes the service: same PID,
			// new program, and the socket came from LISTEN_FDS.
			waitFor(t, func() bool {
				s := socketAt(t, collect(t, q), model.TCP, port)
				return len(s.Holders) == 1 && s.Holders[0].Process != nil && s.Holders[0].Process.Name != "systemd-socket-"
			})
			s = socketAt(t, collect(t, q), model.TCP, port)
			a, ok = findAttr(s, model.AttrSocketActivation)
			if s.Holders[0].PID != cmd.Process.Pid || !ok || !strings.Contains(a.Detail, "LISTEN_FDS=1") {
				t.Errorf("after activation: holders %+v, attributions %+v; want pid %d holding a socket from LISTEN_FDS", s.Holders, s.Attributions, cmd.Process.Pid)
			}
		})
	}
}

func TestProcessInServiceCgroupIsThatUnit(t *testing.T) {
	testutil.NeedRoot(t)
	h := listenInCgroup(t, "system.slice/demo.service")
	port, _ := strconv.Atoi(h.Ready)
	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}), model.TCP, port)
	a, ok := findAttr(s, model.AttrUnit)
	if !ok || a.Name != "demo.service" || a.Manager != "system" || a.PID != h.pid() {
		t.Errorf("attributions = %+v; want systemd unit demo.service (system) for pid %d", s.Attributions, h.pid())
	}
	if p := s.Holders[0].Process; p.Cgroup != "/system.slice/demo.service" {
		t.Errorf("holder cgroup = %q; want /system.slice/demo.service", p.Cgroup)
	}
}

// listenInCgroup starts a listener and moves it into the cgroup rel (such
// as "system.slice/demo.service") of every hierarchy that tells units
// apart; the group goes when the test ends.
func listenInCgroup(t *testing.T, rel string) *helper {
	t.Helper()
	testutil.NeedRoot(t)
	dirs := systemdCgroupDirs(t)
	h := startHelper(t, "listen", []string{"WB_ADDR=tcp4:127.0.0.1:0"})
	pid := []byte(strconv.Itoa(h.pid()))
	for _, base := range dirs {
		dir := filepath.Join(base, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// The helper must leave before the group can go.
			os.WriteFile(filepath.Join(base, "cgroup.procs"), pid, 0)
			os.Remove(dir)
			os.Remove(filepath.Dir(dir)) // fails, as it should, if others use it
		})
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), pid, 0); err != nil {
			t.Fatalf("moving pid %d into %s: %v", h.pid(), dir, err)
		}
	}
	return h
}

// systemdCgroupDirs returns the roots of the hierarchies that say which
// unit a process is in: the v1 name=systemd one and the v2 one.
func systemdCgroupDirs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		i := slices.Index(f, "-")
		if i < 0 || i+3 >= len(f) {
			continue
		}
		switch {
		case f[i+1] == "cgroup2":
			dirs = append(dirs, f[4])
		case f[i+1] == "cgroup" && strings.Contains(f[i+3], "name=systemd"):
			dirs = append(dirs, f[4])
		}
	}
	if len(dirs) == 0 {
		testutil.Missing(t, "no cgroup2 or name=systemd hierarchy mounted")
	}
	return dirs
}

func TestAgreesWithSS(t *testing.T) {
	testutil.NeedRoot(t)
	ss := testutil.NeedCommand(t, "ss")
	// Sockets come and go; compare only those ss reports the same way
	// before and after our snapshot.
	before := ssHolders(t, ss)
	snap := collect(t, Query{AllStates: true})
	after := ssHolders(t, ss)
	ours := map[uint64]string{}
	for _, s := range snap.Sockets {
		if s.Inode != 0 {
			ours[s.Inode] = holdersKey(s.Holders)
		}
	}
	compared := 0
	for ino, want := range before {
		if after[ino] != want {
			continue
		}
		got, ok := ours[ino]
		if !ok {
			t.Errorf("ss reports socket inode %d (holders %s); whobinds does not", ino, want)
			continue
		}
		compared++
		if got != want {
			t.Errorf("socket inode %d: whobinds holders %q; ss %q", ino, got, want)
		}
	}
	if compared == 0 {
		t.Fatal("no socket to compare with ss")
	}
	t.Logf("compared %d sockets with ss -tulpnaeH", compared)
}

// ssHolders runs ss and returns, per socket inode, its holders as
// "pid:fd,pid:fd" sorted.
func ssHolders(t *testing.T, ss string) map[uint64]string {
	t.Helper()
	out, err := exec.Command(ss, "-tulpnaeH").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	m := map[uint64]string{}
	for _, line := range strings.Split(string(out), "\n") {
		i := strings.Index(line, " ino:")
		if i < 0 {
			continue
		}
		ino, err := strconv.ParseUint(strings.Fields(line[i+5:])[0], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		var holders []model.Holder
		rest := line
		for {
			j := strings.Index(rest, "pid=")
			if j < 0 {
				break
			}
			rest = rest[j+4:]
			pid, _ := strconv.Atoi(rest[:strings.IndexAny(rest, ",)")])
			k := strings.Index(rest, "fd=")
			fd, _ := strconv.Atoi(rest[k+3 : k+3+strings.IndexAny(rest[k+3:], ",)")])
			holders = appendFD(holders, pid, fd)
		}
		m[ino] = holdersKey(holders)
	}
	return m
}

func appendFD(hs []model.Holder, pid, fd int) []model.Holder {
	for i := range hs {
		if hs[i].PID == pid {
			hs[i].FDs = append(hs[i].FDs, fd)
			return hs
		}
	}
	return append(hs, model.Holder{PID: pid, FDs: []int{fd}})
}

func holdersKey(hs []model.Holder) string {
	var parts []string
	for _, h := range hs {
		for _, fd := range h.FDs {
			parts = append(parts, strconv.Itoa(h.PID)+":"+strconv.Itoa(fd))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUserManagerSocketUnit runs a listener that looks like a systemd user
// manager from /proc (named systemd, with --user, and a HOME holding a
// .socket unit for its address): the socket is attributed to that unit and
// the service it starts.
func TestUserManagerSocketUnit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "systemd")
	if err := os.Link(os.Args[0], bin); err != nil {
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	units := filepath.Join(home, ".config/systemd/user")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	unit := "[Socket]\nListenStream=127.0.0.1:" + strconv.Itoa(port) + "\n\n[Install]\nWantedBy=sockets.target\n"
	if err := os.WriteFile(filepath.Join(units, "demo.socket"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "listen", []string{"WB_ADDR=tcp4:127.0.0.1:" + strconv.Itoa(port), "HOME=" + home}, bin, "--user")
	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+strconv.Itoa(port))}), model.TCP, port)
	a, ok := findAttr(s, model.AttrSocketActivation)
	wantMgr := "systemd user@" + strconv.Itoa(os.Geteuid())
	if !ok || a.Name != "demo.socket" || a.Service != "demo.service" || a.Manager != wantMgr || a.PID != h.pid() {
		t.Errorf("attributions = %+v; want socket-activation demo.socket → demo.service by %s (pid %d)", s.Attributions, wantMgr, h.pid())
	}
}

// dockerRoot is a host root with docker's metadata for container "web"
// (nginx:1.25, 172.17.0.2), in the real on-disk format.
const (
	dockerRoot = "../linux/containers/testdata/host"
	webID      = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a"
)

// copyAs copies the test binary to a file with the given name, so that a
// helper runs under that process name.
func copyAs(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestDockerProxyIsAttributedToItsContainer(t *testing.T) {
	port := testutil.FreePort(t)
	p := strconv.Itoa(port)
	bin := copyAs(t, "docker-proxy")
	h := startHelperArgv(t, "listen", []string{"WB_ADDR=tcp4:127.0.0.1:" + p}, bin,
		"-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", p, "-container-ip", "172.17.0.2", "-container-port", "80")
	s := socketAt(t, collectWith(t, Options{Root: dockerRoot}, Query{Targets: mustT{}.of(t, "tcp/"+p)}), model.TCP, port)
	a, ok := findAttr(s, model.AttrForwarder)
	if !ok || a.Manager != "docker-proxy" || a.Name != "web" || a.Image != "nginx:1.25" || a.ID != webID ||
		a.Target.String() != "172.17.0.2:80" || a.PID != h.pid() {
		t.Errorf("attributions = %+v; want forwarder docker-proxy → container web (nginx:1.25) at 172.17.0.2:80", s.Attributions)
	}
	if s.Attributions[0].Kind != model.AttrForwarder {
		t.Errorf("first attribution = %s; want the forwarder, the most specific", s.Attributions[0].Kind)
	}
}

func TestProcessInDockerCgroupIsThatContainer(t *testing.T) {
	testutil.NeedRoot(t)
	h := listenInCgroup(t, "system.slice/docker-"+webID+".scope")
	port, _ := strconv.Atoi(h.Ready)
	s := socketAt(t, collectWith(t, Options{Root: dockerRoot}, Query{Targets: mustT{}.of(t, "tcp/"+h.Ready)}), model.TCP, port)
	a, ok := findAttr(s, model.AttrContainer)
	if !ok || a.Manager != "docker" || a.ID != webID || a.Name != "web" || a.Image != "nginx:1.25" {
		t.Errorf("attributions = %+v; want docker container web (nginx:1.25)", s.Attributions)
	}
	if u, ok := findAttr(s, model.AttrUnit); ok {
		t.Errorf("the container's own scope is also reported as a unit: %+v", u)
	}
}

// TestProcessesExitingMidWalk churns short-lived processes that inherit a
// listener and exit at once, while snapshots are taken: every snapshot
// succeeds, and every holder it names is one that really held the socket.
func TestProcessesExitingMidWalk(t *testing.T) {
	trueCmd := testutil.NeedCommand(t, "true")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File()
	defer f.Close()
	ino := inodeOf(t, ln.(*net.TCPListener))
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c := exec.Command(trueCmd)
			c.ExtraFiles = []*os.File{f}
			c.Run()
		}
	}()
	defer func() { close(stop); <-done }()

	self := filepath.Base(os.Args[0])
	for range 30 {
		s := socketByInode(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+port)}), ino)
		if !slices.Contains(holderPIDs(s), os.Getpid()) {
			t.Fatalf("holders %v lack this process %d", holderPIDs(s), os.Getpid())
		}
		for _, h := range s.Holders {
			if h.Process == nil || (h.Process.Name != "true" && h.Process.Name != self[:min(len(self), 15)]) {
				t.Errorf("holder %d named %+v; want this test or a churning true", h.PID, h.Process)
			}
		}
	}
}

func TestProcessInUserUnitCgroup(t *testing.T) {
	h := listenInCgroup(t, "user.slice/user-1000.slice/user@1000.service/app.slice/demo.service")
	port, _ := strconv.Atoi(h.Ready)
	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+h.Ready)}), model.TCP, port)
	a, ok := findAttr(s, model.AttrUnit)
	if !ok || a.Name != "demo.service" || a.Manager != "user@1000" {
		t.Errorf("attributions = %+v; want user unit demo.service of user@1000", s.Attributions)
	}
}

// TestHolderInChildPIDNamespace starts a listener as PID 1 of a new PID
// namespace: from here it has another PID, and whobinds says both.
func TestHolderInChildPIDNamespace(t *testing.T) {
	testutil.NeedRoot(t)
	unshare := testutil.NeedCommand(t, "unshare")
	h := startHelper(t, "listen", []string{"WB_ADDR=tcp4:127.0.0.1:0"}, unshare, "--pid", "--fork", "--kill-child")
	port, _ := strconv.Atoi(h.Ready)
	s := socketAt(t, collect(t, Query{Targets: mustT{}.of(t, "tcp/"+h.Ready)}), model.TCP, port)
	if len(s.Holders) != 1 || s.Holders[0].Process == nil {
		t.Fatalf("holders = %+v; want the helper", s.Holders)
	}
	p := s.Holders[0].Process
	if p.NSPID != 1 || p.PID == 1 || p.PPID != h.pid() {
		t.Errorf("holder pid %d, ns pid %d, parent %d; want ns pid 1, a child of unshare (%d)", p.PID, p.NSPID, p.PPID, h.pid())
	}
	self, err := procfs.NewReader("/proc", "/etc/passwd").Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.PIDNS == 0 || p.PIDNS == self.PIDNS {
		t.Errorf("holder pid namespace %d; want one other than ours (%d)", p.PIDNS, self.PIDNS)
	}
}
