package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildLoadgen builds this command into a temporary directory, named
// loadgen so that its children show as loadgen.
func buildLoadgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadgen")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build = %v\n%s", err, out)
	}
	return bin
}

// freePortBase finds n consecutive free TCP ports on 127.0.0.1 below the
// ephemeral range. Another process may take one before loadgen does; the
// test then fails with loadgen's bind error, not silently.
func freePortBase(t *testing.T, n int) int {
	t.Helper()
	for base := 23000 + os.Getpid()%4000; base < 32000; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

type started struct {
	cmd       *exec.Cmd
	ready     string
	fields    map[string]string
	pids      []int
	portBase  int
	listeners int
	conns     int
}

func startLoadgen(t *testing.T, bin string, children, fillers, listeners, conns int) *started {
	t.Helper()
	s := &started{ready: filepath.Join(t.TempDir(), "ready"), listeners: listeners, conns: conns}
	s.portBase = freePortBase(t, listeners)
	s.cmd = exec.Command(bin,
		"-children", strconv.Itoa(children), "-fillers", strconv.Itoa(fillers),
		"-listeners", strconv.Itoa(listeners), "-conns", strconv.Itoa(conns),
		"-port-base", strconv.Itoa(s.portBase), "-ready-file", s.ready, "-duration", "2m")
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting loadgen: %v", err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		for _, pid := range s.pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		b, err := os.ReadFile(s.ready)
		if err == nil {
			s.parse(t, string(b))
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no ready file within a minute")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *started) parse(t *testing.T, content string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(content), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "READY ") || !strings.HasPrefix(lines[1], "PIDS ") {
		t.Fatalf("ready file = %q; want a READY and a PIDS line", content)
	}
	s.fields = map[string]string{}
	for _, f := range strings.Fields(lines[0])[1:] {
		k, v, _ := strings.Cut(f, "=")
		s.fields[k] = v
	}
	for _, f := range strings.Fields(lines[1])[1:] {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("PIDS line %q: %v", lines[1], err)
		}
		s.pids = append(s.pids, pid)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(end) {
				t.Fatalf("child pid %d still alive 30s after the parent ended", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// establishedOn counts ESTABLISHED IPv4 TCP sockets with either port in
// [base, base+n), from /proc/net/tcp.
func establishedOn(t *testing.T, base, n int) int {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	count := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	inRange := func(addr string) bool {
		_, hexPort, _ := strings.Cut(addr, ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		return err == nil && int(p) >= base && int(p) < base+n
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 3 && f[3] == "01" && (inRange(f[1]) || inRange(f[2])) {
			count++
		}
	}
	return count
}

// TestLoadgenScenario builds a tiny scenario on the real kernel and checks
// what the harness relies on: the READY facts, the children's names and
// fillers, both ends of every connection, and a clean teardown on SIGTERM.
func TestLoadgenScenario(t *testing.T) {
	bin := buildLoadgen(t)
	const children, fillers, listeners, conns = 6, 10, 3, 12
	s := startLoadgen(t, bin, children, fillers, listeners, conns)

	if got := len(s.pids); got != children {
		t.Fatalf("PIDS has %d pids; want %d", got, children)
	}
	if want := strconv.Itoa(s.portBase + listeners/2); s.fields["target_port"] != want {
		t.Errorf("target_port = %s; want %s", s.fields["target_port"], want)
	}
	targetPID, _ := strconv.Atoi(s.fields["target_pid"])
	if want := s.pids[children*(listeners/2)/listeners]; targetPID != want {
		t.Errorf("target_pid = %d; want the listener's owner %d", targetPID, want)
	}

	files, unixEnds, udp := fillerSplit(fillers)
	for _, pid := range s.pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			t.Fatalf("reading comm of child %d: %v", pid, err)
		}
		if got := strings.TrimSpace(string(comm)); got != "loadgen" {
			t.Errorf("child %d comm = %q; want loadgen", pid, got)
		}
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatalf("listing fds of child %d: %v", pid, err)
		}
		var nFiller, nSocket int
		for _, e := range ents {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
			switch {
			case err != nil:
			case strings.HasSuffix(link, "/filler"):
				nFiller++
			case strings.HasPrefix(link, "socket:"):
				nSocket++
			}
		}
		if nFiller != files {
			t.Errorf("child %d holds %d filler files; want %d", pid, nFiller, files)
		}
		if nSocket < unixEnds+udp {
			t.Errorf("child %d holds %d sockets; want at least %d (fillers alone)", pid, nSocket, unixEnds+udp)
		}
	}

	if got, want := establishedOn(t, s.portBase, listeners), 2*conns; got != want {
		t.Errorf("ESTABLISHED sockets on ports %d-%d = %d; want %d (both ends of %d connections)",
			s.portBase, s.portBase+listeners-1, got, want, conns)
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+s.fields["target_port"])
	if err != nil {
		t.Errorf("dialling the target port: %v; want a listener", err)
	} else {
		c.Close()
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("loadgen after SIGTERM = %v; want exit status 0", err)
	}
	waitGone(t, s.pids)
	if _, err := os.Stat(s.ready); !os.IsNotExist(err) {
		t.Errorf("ready file after teardown: stat = %v; want it removed", err)
	}
}

// scratchDir returns the directory of the filler file a child holds open, or
// "" if it holds none.
func scratchDir(pid int) string {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err == nil && strings.HasSuffix(link, "/filler") {
			return filepath.Dir(link)
		}
	}
	return ""
}

// TestLoadgenChildrenDieWithParent kills the parent with SIGKILL, which it
// cannot catch: the parent-death signal must still take every child down.
func TestLoadgenChildrenDieWithParent(t *testing.T) {
	bin := buildLoadgen(t)
	s := startLoadgen(t, bin, 4, 2, 1, 4)
	// The parent cannot remove its scratch directory when killed; find it
	// through a child's filler fd and remove it ourselves.
	if dir := scratchDir(s.pids[0]); dir != "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	waitGone(t, s.pids)
}
