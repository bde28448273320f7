package containers

// Helpers shared by the integration tests: processes, ss, a busybox root
// file system.

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/testutil"
)

// waitFor polls cond until it reports true or timeout passes, then fails
// the test with cond's last description of what it saw. The timeouts are
// generous ceilings, not expectations: on a host busy with hundreds of
// thousands of descriptors one "ss -p" alone takes seconds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s; last saw: %s", timeout, what, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procArgs returns a process's comm and command line from /proc.
func procArgs(t *testing.T, pid int) (comm string, argv []string) {
	t.Helper()
	c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatalf("reading comm of %d: %v", pid, err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("reading cmdline of %d: %v", pid, err)
	}
	return strings.TrimSuffix(string(c), "\n"), strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

var ssPID = regexp.MustCompile(`pid=(\d+)`)

// listenHolders runs "ss -tlnpH" as the reference, in the network
// namespace of nsPID (0: ours), and returns the PIDs ss says hold the TCP
// listener on local, or nil when there is none.
func listenHolders(t *testing.T, nsPID int, local string) ([]int, string) {
	t.Helper()
	args := []string{"-tlnpH"}
	name := testutil.NeedCommand(t, "ss")
	if nsPID != 0 {
		args = append([]string{"-t", strconv.Itoa(nsPID), "-n", name}, args...)
		name = testutil.NeedCommand(t, "nsenter")
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != local {
			continue
		}
		var pids []int
		for _, m := range ssPID.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[1])
			pids = append(pids, n)
		}
		return pids, line
	}
	return nil, string(out)
}

// children returns the PIDs whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the parenthesised comm: state, ppid.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// killTree kills the process we started and its descendants, each by PID,
// with SIGKILL (a command pasta starts is PID 1 of its own PID namespace
// and ignores SIGTERM), and reaps the process.
func killTree(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	var tree []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children(p) {
			tree = append(tree, c)
			walk(c)
		}
	}
	walk(cmd.Process.Pid)
	// Descendants first, so their parents are still there to reap them.
	for _, p := range slices.Backward(tree) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

// httpGet fetches http://addr/ with a plain HTTP/1.0 request and returns
// the body.
func httpGet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c); err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(buf.String(), "\r\n\r\n")
	return body, nil
}

// webRoot writes a directory with an index.html that every user can read,
// for busybox httpd.
func webRoot(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// staticBusybox returns the path of a statically linked busybox, which
// runs in an image that holds nothing else (Debian: busybox-static).
func staticBusybox(t *testing.T) string {
	t.Helper()
	p := testutil.NeedCommand(t, "busybox")
	f, err := elf.Open(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			testutil.Missing(t, "%s is dynamically linked; install busybox-static", p)
		}
	}
	return p
}

// busyboxRootfs writes a tar of a root file system with a static busybox
// and /www/index.html holding content, for "docker import" and
// "podman import".
func busyboxRootfs(t *testing.T, dir, content string) string {
	t.Helper()
	bb, err := os.ReadFile(staticBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rootfs.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := tar.NewWriter(f)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = time.Unix(0, 0)
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb)
	add(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	add(&tar.Header{Name: "www/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "www/index.html", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content))}, []byte(content))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a command and returns its trimmed standard output, failing the
// test with its output when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}
