package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

// The test binary doubles as the helper processes the tests need: with
// WB_HELPER set, TestMain runs the helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("WB_HELPER"); mode != "" {
		os.Exit(helperMain(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperMain runs one helper. Every helper prints "READY ..." on stdout
// once it holds its socket, then holds it until stdin closes.
func helperMain(mode string, args []string) int {
	var extra string
	switch mode {
	case "listen": // WB_ADDR=tcp4:127.0.0.1:0
		network, address, _ := strings.Cut(os.Getenv("WB_ADDR"), ":")
		ln, err := net.Listen(network, address)
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		defer ln.Close()
		extra = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	case "recvfd": // WB_UNIX=/path: receive one descriptor and hold it
		c, err := net.Dial("unix", os.Getenv("WB_UNIX"))
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		f, _ := c.(*net.UnixConn).File()
		buf := make([]byte, 1)
		oob := make([]byte, syscall.CmsgSpace(4))
		_, oobn, _, _, err := syscall.Recvmsg(int(f.Fd()), buf, oob, 0)
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		extra = strconv.Itoa(fds[0])
	case "activated": // started by a socket activator: hold fd 3
		extra = os.Getenv("LISTEN_FDS")
	case "sleep":
	default:
		fmt.Println("ERROR unknown helper", mode)
		return 1
	}
	fmt.Println("READY", extra)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	// Ready is what the helper printed after READY.
	Ready string
}

// startHelper starts the test binary as a helper, optionally through a
// wrapper command (such as "ip netns exec NAME"), and waits for READY.
func startHelper(t *testing.T, mode string, env []string, wrapper ...string) *helper {
	t.Helper()
	return startHelperArgv(t, mode, env, append(wrapper, os.Args[0])...)
}

// startHelperArgv starts a helper with an exact command line, for helpers
// that must look like another program (argv[0] is a copy of the test
// binary).
func startHelperArgv(t *testing.T, mode string, env []string, argv ...string) *helper {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "WB_HELPER="+mode), env...)
	cmd.Stderr = os.Stderr
	h := &helper{cmd: cmd}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	h.Ready = h.waitReady(t)
	return h
}

func (h *helper) waitReady(t *testing.T) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		l, err := h.out.ReadString('\n')
		ch <- result{l, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil || !strings.HasPrefix(r.line, "READY") {
			t.Fatalf("helper %v: %q, %v", h.cmd.Args, r.line, r.err)
		}
		return strings.TrimSpace(strings.TrimPrefix(r.line, "READY"))
	case <-time.After(10 * time.Second):
		t.Fatalf("helper %v did not get ready", h.cmd.Args)
	}
	return ""
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

func (h *helper) stop() {
	h.stdin.Close()
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

// collect runs the engine on the live system.
func collect(t *testing.T, q Query) *model.Snapshot {
	t.Helper()
	return collectWith(t, Options{}, q)
}

// collectWith runs the engine with options, such as a fixture root for
// configuration and container metadata.
func collectWith(t *testing.T, opt Options, q Query) *model.Snapshot {
	t.Helper()
	e, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := e.Collect(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func mustTarget(t *testing.T, s string) target.Target {
	t.Helper()
	tg, err := target.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// socketAt returns the one socket of the snapshot on port, failing the
// test unless there is exactly one.
func socketAt(t *testing.T, snap *model.Snapshot, proto model.Proto, port int) *model.Socket {
	t.Helper()
	var found []*model.Socket
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto == proto && int(s.Local.Port()) == port {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d sockets on %s/%d; want 1: %+v", len(found), proto, port, found)
	}
	return found[0]
}

// socketByInode returns the socket with the given inode, for tests whose
// ports may be shared with other sockets on a busy machine.
func socketByInode(t *testing.T, snap *model.Snapshot, ino uint64) *model.Socket {
	t.Helper()
	for i := range snap.Sockets {
		if snap.Sockets[i].Inode == ino {
			return &snap.Sockets[i]
		}
	}
	t.Fatalf("no socket with inode %d among %d", ino, len(snap.Sockets))
	return nil
}

func holderPIDs(s *model.Socket) []int {
	var out []int
	for _, h := range s.Holders {
		out = append(out, h.PID)
	}
	return out
}

func findAttr(s *model.Socket, k model.AttrKind) (model.Attribution, bool) {
	for _, a := range s.Attributions {
		if a.Kind == k {
			return a, true
		}
	}
	return model.Attribution{}, false
}

func inodeOf(t *testing.T, sc syscall.Conn) uint64 {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	rc.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func fdOf(t *testing.T, sc syscall.Conn) int {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}
